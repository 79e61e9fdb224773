// kafkajs' Schema Registry client against a registry: registers an Avro and a JSON schema, encodes
// a value with each, and decodes the payloads it is given (written by kctl). Prints one JSON line.
// Protobuf is left out: this client writes Protobuf without Confluent's message indexes.
const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry')

const [url, subject, avroSchema, jsonSchema, ...payloads] = process.argv.slice(2)

async function main() {
  const registry = new SchemaRegistry({ host: url })
  const avro = await registry.register({ type: SchemaType.AVRO, schema: avroSchema }, { subject: `${subject}-avro` })
  const json = await registry.register({ type: SchemaType.JSON, schema: jsonSchema }, { subject: `${subject}-json` })
  const latest = await registry.getLatestSchemaId(`${subject}-avro`)
  const avroPayload = await registry.encode(avro.id, { id: 42, sku: 'from-kafkajs' })
  const jsonPayload = await registry.encode(json.id, { id: 43, sku: 'from-kafkajs' })
  const decoded = []
  for (const payload of payloads) {
    decoded.push(await registry.decode(Buffer.from(payload, 'base64')))
  }
  console.log(JSON.stringify({
    avroId: avro.id, jsonId: json.id, latest,
    encoded: [avroPayload.toString('base64'), jsonPayload.toString('base64')],
    decoded,
  }))
}

main().catch((error) => { console.error(error); process.exit(1) })
