/* The generated decoders, run from a program instead of as Python.
 *
 * For every layout group the code generator writes a Python decoder and, next to it, a program:
 * nested tuples that say which field comes next on the wire and how it is read (see
 * `ProgramText` in codegen.py). `Program(python, flexible, program)` runs that program here,
 * building the generated (slotted) classes directly, as the Python decoder does with
 * `object.__new__` and attribute stores, but without a bytecode instruction per field.
 *
 * The Python decoder stays the authority: whenever the bytes are anything but well formed (a
 * short buffer, a bad length, a null where none may be, invalid UTF-8, an oversized varint),
 * this reader gives up and calls it, so every error is the one the Python decoder raises, with
 * its message. Tests hold the two to the same results on well-formed and mutated bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include "structmember.h"

enum Op {
    OP_BOOL, OP_INT8, OP_INT16, OP_UINT16, OP_INT32, OP_INT64, OP_FLOAT64, OP_UUID,
    OP_STRING, OP_NULLABLE_STRING, OP_BYTES, OP_NULLABLE_BYTES, OP_ARRAY, OP_STRUCT,
};
enum Default { DEFAULT_VALUE, DEFAULT_LIST, DEFAULT_STRUCT };

typedef struct Node Node;

/* One field: how it is read (wire and tagged fields) or what it holds when absent. */
typedef struct {
    int op;
    int nullable;     /* arrays and structs */
    int element;      /* arrays: the element's op (OP_STRUCT for structs) */
    Node *node;       /* structs and arrays of structs: how one is read */
    Py_ssize_t slot;  /* byte offset of the field's slot in its object */
    long tag;         /* tagged fields */
    int default_kind; /* absent and tagged fields */
    PyObject *value;  /* DEFAULT_VALUE: borrowed from the program tuple, which outlives this */
    Node *default_node; /* DEFAULT_STRUCT: a node of absent fields only */
} Step;

struct Node {
    PyTypeObject *cls; /* borrowed, as above */
    Py_ssize_t n_wire, n_tagged, n_absent;
    Step *wire, *tagged, *absent;
};

typedef struct {
    const unsigned char *p;
    Py_ssize_t len;
    Py_ssize_t o;
    int flexible;
} Reader;

/* uuid.UUID is built as its __init__ builds it: the `int` and `is_safe` slots set. */
static PyTypeObject *uuid_type;
static PyObject *uuid_unknown; /* uuid.SafeUUID.unknown */
static Py_ssize_t uuid_int_slot = -1, uuid_safe_slot = -1;

#define SLOT(obj, offset) (*(PyObject **)((char *)(obj) + (offset)))

/* ---- compiling a program ------------------------------------------------------------------ */

static void free_node(Node *node);

static void free_steps(Step *steps, Py_ssize_t n) {
    if (steps == NULL) return;
    for (Py_ssize_t i = 0; i < n; i++) {
        free_node(steps[i].node);
        free_node(steps[i].default_node);
    }
    PyMem_Free(steps);
}

static void free_node(Node *node) {
    if (node == NULL) return;
    free_steps(node->wire, node->n_wire);
    free_steps(node->tagged, node->n_tagged);
    free_steps(node->absent, node->n_absent);
    PyMem_Free(node);
}

/* The offset of a writable object slot named `name` in instances of `cls`. */
static int slot_offset(PyTypeObject *cls, PyObject *name, Py_ssize_t *offset) {
    PyObject *descr = PyObject_GetAttr((PyObject *)cls, name);
    if (descr == NULL) return -1;
    int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type);
    if (ok) {
        PyMemberDescrObject *member = (PyMemberDescrObject *)descr;
        ok = member->d_member->type == T_OBJECT_EX && !(member->d_member->flags & READONLY) &&
             PyType_IsSubtype(cls, member->d_common.d_type);
        *offset = member->d_member->offset;
    }
    Py_DECREF(descr);
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%s.%U is not a slot", cls->tp_name, name);
        return -1;
    }
    return 0;
}

static Node *compile_node(PyObject *spec);

static int compile_primitive(PyObject *code, int *op) {
    static const char *names[] = {"bool", "int8", "int16", "uint16", "int32", "int64", "float64",
                                  "uuid", "string", "string?", "bytes", "bytes?"};
    if (PyUnicode_Check(code)) {
        for (int i = 0; i < (int)(sizeof names / sizeof *names); i++) {
            if (PyUnicode_CompareWithASCIIString(code, names[i]) == 0) {
                *op = i;
                return 0;
            }
        }
    }
    PyErr_Format(PyExc_ValueError, "unknown field type %R", code);
    return -1;
}

/* `spec`: a primitive's name, ("array", nullable, element) or ("struct", nullable, node). */
static int compile_op(PyObject *spec, Step *step) {
    if (!PyTuple_Check(spec)) return compile_primitive(spec, &step->op);
    PyObject *kind, *nullable, *inner;
    if (!PyArg_ParseTuple(spec, "UOO", &kind, &nullable, &inner)) return -1;
    step->nullable = PyObject_IsTrue(nullable);
    if (step->nullable < 0) return -1;
    if (PyUnicode_CompareWithASCIIString(kind, "struct") == 0) {
        step->op = OP_STRUCT;
        step->node = compile_node(inner);
        return step->node == NULL ? -1 : 0;
    }
    if (PyUnicode_CompareWithASCIIString(kind, "array") != 0) {
        PyErr_Format(PyExc_ValueError, "unknown field kind %R", kind);
        return -1;
    }
    step->op = OP_ARRAY;
    if (PyTuple_Check(inner)) {
        step->element = OP_STRUCT;
        step->node = compile_node(inner);
        return step->node == NULL ? -1 : 0;
    }
    return compile_primitive(inner, &step->element);
}

/* `spec`: ("value", value), ("list",) or ("struct", node). */
static int compile_default(PyObject *spec, Step *step) {
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) < 1 || !PyUnicode_Check(PyTuple_GET_ITEM(spec, 0))) {
        PyErr_Format(PyExc_ValueError, "bad default %R", spec);
        return -1;
    }
    PyObject *kind = PyTuple_GET_ITEM(spec, 0);
    Py_ssize_t size = PyTuple_GET_SIZE(spec);
    if (size == 2 && PyUnicode_CompareWithASCIIString(kind, "value") == 0) {
        step->default_kind = DEFAULT_VALUE;
        step->value = PyTuple_GET_ITEM(spec, 1);
        return 0;
    }
    if (size == 1 && PyUnicode_CompareWithASCIIString(kind, "list") == 0) {
        step->default_kind = DEFAULT_LIST;
        return 0;
    }
    if (size == 2 && PyUnicode_CompareWithASCIIString(kind, "struct") == 0) {
        step->default_kind = DEFAULT_STRUCT;
        step->default_node = compile_node(PyTuple_GET_ITEM(spec, 1));
        return step->default_node == NULL ? -1 : 0;
    }
    PyErr_Format(PyExc_ValueError, "bad default %R", spec);
    return -1;
}

/* Items of a node's wire, tagged or absent tuple. `shape` says which. */
enum Shape { WIRE, TAGGED, ABSENT };

static int compile_steps(PyTypeObject *cls, PyObject *items, enum Shape shape, Step **out, Py_ssize_t *count) {
    if (!PyTuple_Check(items)) {
        PyErr_SetString(PyExc_TypeError, "a node's fields must be a tuple");
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    *count = n;
    *out = PyMem_Calloc(n ? (size_t)n : 1, sizeof(Step));
    if (*out == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Step *step = &(*out)[i];
        PyObject *item = PyTuple_GET_ITEM(items, i), *name, *op, *fallback;
        if (shape == WIRE) {
            if (!PyArg_ParseTuple(item, "UO", &name, &op)) return -1;
            if (compile_op(op, step) < 0) return -1;
        } else if (shape == TAGGED) {
            if (!PyArg_ParseTuple(item, "lUOO", &step->tag, &name, &op, &fallback)) return -1;
            if (compile_op(op, step) < 0 || compile_default(fallback, step) < 0) return -1;
        } else {
            if (!PyArg_ParseTuple(item, "UO", &name, &fallback)) return -1;
            if (compile_default(fallback, step) < 0) return -1;
        }
        if (slot_offset(cls, name, &step->slot) < 0) return -1;
    }
    return 0;
}

/* `spec`: (class, wire fields, tagged fields, absent fields). */
static Node *compile_node(PyObject *spec) {
    PyObject *cls, *wire, *tagged, *absent;
    if (!PyTuple_Check(spec)) {
        PyErr_Format(PyExc_TypeError, "a node must be a tuple, not %R", spec);
        return NULL;
    }
    if (!PyArg_ParseTuple(spec, "O!OOO", &PyType_Type, &cls, &wire, &tagged, &absent)) return NULL;
    Node *node = PyMem_Calloc(1, sizeof(Node));
    if (node == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    node->cls = (PyTypeObject *)cls;
    if (compile_steps(node->cls, wire, WIRE, &node->wire, &node->n_wire) < 0 ||
        compile_steps(node->cls, tagged, TAGGED, &node->tagged, &node->n_tagged) < 0 ||
        compile_steps(node->cls, absent, ABSENT, &node->absent, &node->n_absent) < 0) {
        free_node(node);
        return NULL;
    }
    /* Every slot must be given a value: a slot left empty would read as a missing attribute. */
    PyObject *slots = PyObject_GetAttrString(cls, "__slots__");
    if (slots == NULL) {
        free_node(node);
        return NULL;
    }
    Py_ssize_t declared = PyObject_Length(slots);
    Py_DECREF(slots);
    if (declared != node->n_wire + node->n_tagged + node->n_absent) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_ValueError, "the program for %s does not set each of its %zd slots once",
                         node->cls->tp_name, declared);
        free_node(node);
        return NULL;
    }
    return node;
}

/* ---- reading ------------------------------------------------------------------------------ */
/* Every reader returns NULL (or -1) when the bytes are not well formed; the caller then hands
   the whole buffer to the Python decoder, which raises the proper error. */

static inline uint16_t be16(const unsigned char *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t be32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t be64(const unsigned char *p) { return ((uint64_t)be32(p) << 32) | be32(p + 4); }

static int read_uvarint(Reader *r, uint64_t *out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        if (r->o >= r->len) return -1;
        unsigned char byte = r->p[r->o++];
        value |= (uint64_t)(byte & 0x7F) << shift;
        if (byte < 0x80) {
            if (value > 0xFFFFFFFFu) return -1;
            *out = value;
            return 0;
        }
    }
    return -1;
}

/* A length or count: -1 for null, -2 for bytes that cannot be read. Classic versions carry
   int16 (strings) or int32 (bytes, arrays) lengths; flexible ones an unsigned varint of n + 1. */
static Py_ssize_t read_length(Reader *r, int width) {
    if (r->flexible) {
        uint64_t n;
        if (read_uvarint(r, &n) < 0) return -2;
        return (Py_ssize_t)n - 1;
    }
    if (r->len - r->o < width) return -2;
    Py_ssize_t n = width == 2 ? (int16_t)be16(r->p + r->o) : (int32_t)be32(r->p + r->o);
    r->o += width;
    return n < 0 ? -1 : n;
}

static PyObject *read_uuid(Reader *r) {
    if (r->len - r->o < 16) return NULL;
    const unsigned char *p = r->p + r->o;
    r->o += 16;
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *value = PyLong_FromUnsignedNativeBytes(p, 16, Py_ASNATIVEBYTES_BIG_ENDIAN);
#else
    PyObject *value = _PyLong_FromByteArray(p, 16, 0, 0);
#endif
    if (value == NULL) return NULL;
    if (uuid_int_slot < 0) {
        /* An unusual uuid module: build it the public way. */
        PyObject *args = PyTuple_New(0), *kwargs = Py_BuildValue("{sN}", "int", value);
        PyObject *uuid = args && kwargs ? PyObject_Call((PyObject *)uuid_type, args, kwargs) : NULL;
        Py_XDECREF(args);
        Py_XDECREF(kwargs);
        return uuid;
    }
    PyObject *uuid = uuid_type->tp_alloc(uuid_type, 0);
    if (uuid == NULL) {
        Py_DECREF(value);
        return NULL;
    }
    SLOT(uuid, uuid_int_slot) = value;
    Py_INCREF(uuid_unknown);
    SLOT(uuid, uuid_safe_slot) = uuid_unknown;
    return uuid;
}

static PyObject *read_primitive(Reader *r, int op) {
    static const Py_ssize_t widths[] = {1, 1, 2, 2, 4, 8, 8};
    const unsigned char *p = r->p + r->o;
    if (op <= OP_FLOAT64) {
        if (r->len - r->o < widths[op]) return NULL;
        r->o += widths[op];
    }
    switch (op) {
    case OP_BOOL: return PyBool_FromLong(p[0] != 0);
    case OP_INT8: return PyLong_FromLong((signed char)p[0]);
    case OP_INT16: return PyLong_FromLong((int16_t)be16(p));
    case OP_UINT16: return PyLong_FromLong(be16(p));
    case OP_INT32: return PyLong_FromLong((int32_t)be32(p));
    case OP_INT64: return PyLong_FromLongLong((int64_t)be64(p));
    case OP_FLOAT64: {
        uint64_t bits = be64(p);
        double value;
        memcpy(&value, &bits, sizeof value);
        return PyFloat_FromDouble(value);
    }
    case OP_UUID: return read_uuid(r);
    default: break;
    }
    int text = op == OP_STRING || op == OP_NULLABLE_STRING;
    Py_ssize_t n = read_length(r, text ? 2 : 4);
    if (n == -2) return NULL;
    if (n == -1) {
        if (op == OP_STRING || op == OP_BYTES) return NULL;
        Py_RETURN_NONE;
    }
    if (n > r->len - r->o) return NULL;
    const char *start = (const char *)r->p + r->o;
    r->o += n;
    return text ? PyUnicode_DecodeUTF8(start, n, NULL) : PyBytes_FromStringAndSize(start, n);
}

static PyObject *read_struct(Reader *r, const Node *node);
static PyObject *read_step(Reader *r, const Step *step);

static PyObject *default_value(const Step *step) {
    switch (step->default_kind) {
    case DEFAULT_LIST: return PyList_New(0);
    case DEFAULT_STRUCT: {
        Reader none = {NULL, 0, 0, 0};
        return read_struct(&none, step->default_node);
    }
    default: Py_INCREF(step->value); return step->value;
    }
}

static PyObject *read_array(Reader *r, const Step *step) {
    Py_ssize_t count = read_length(r, 4);
    if (count == -2) return NULL;
    if (count == -1) {
        if (!step->nullable) return NULL;
        Py_RETURN_NONE;
    }
    if (count > r->len - r->o) return NULL;
    PyObject *list = PyList_New(count);
    if (list == NULL) return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = step->element == OP_STRUCT ? read_struct(r, step->node) : read_primitive(r, step->element);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

static PyObject *read_step(Reader *r, const Step *step) {
    if (step->op == OP_ARRAY) return read_array(r, step);
    if (step->op == OP_STRUCT) {
        if (step->nullable) {
            /* Nullable struct fields carry a presence byte: negative for absent. */
            if (r->o >= r->len) return NULL;
            if ((signed char)r->p[r->o++] < 0) Py_RETURN_NONE;
        }
        return read_struct(r, step->node);
    }
    return read_primitive(r, step->op);
}

/* A tagged-field section. Known tags replace their field's default; others are skipped. */
static int read_tags(Reader *r, const Node *node, PyObject *obj) {
    if (node->n_tagged == 0 && r->o < r->len && r->p[r->o] == 0) { /* nearly always */
        r->o++;
        return 0;
    }
    uint64_t count, tag, size;
    if (read_uvarint(r, &count) < 0) return -1;
    for (uint64_t i = 0; i < count; i++) {
        if (read_uvarint(r, &tag) < 0 || read_uvarint(r, &size) < 0) return -1;
        if ((Py_ssize_t)size > r->len - r->o) return -1;
        Py_ssize_t end = r->o + (Py_ssize_t)size;
        for (Py_ssize_t t = 0; t < node->n_tagged; t++) {
            const Step *step = &node->tagged[t];
            if ((uint64_t)step->tag != tag) continue;
            PyObject *value = read_step(r, step);
            if (value == NULL) return -1;
            Py_SETREF(SLOT(obj, step->slot), value);
            break;
        }
        r->o = end;
    }
    return 0;
}

static PyObject *read_struct(Reader *r, const Node *node) {
    PyObject *obj = node->cls->tp_alloc(node->cls, 0);
    if (obj == NULL) return NULL;
    for (Py_ssize_t i = 0; i < node->n_wire; i++) {
        const Step *step = &node->wire[i];
        PyObject *value = read_step(r, step);
        if (value == NULL) goto fail;
        SLOT(obj, step->slot) = value;
    }
    for (Py_ssize_t i = 0; i < node->n_absent; i++) {
        PyObject *value = default_value(&node->absent[i]);
        if (value == NULL) goto fail;
        SLOT(obj, node->absent[i].slot) = value;
    }
    if (r->flexible) {
        for (Py_ssize_t i = 0; i < node->n_tagged; i++) {
            const Step *step = &node->tagged[i];
            PyObject *value = default_value(step);
            if (value == NULL) goto fail;
            SLOT(obj, step->slot) = value;
        }
        if (read_tags(r, node, obj) < 0) goto fail;
    }
    return obj;
fail:
    Py_DECREF(obj);
    return NULL;
}

/* ---- Program ------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    PyObject *python;  /* the generated Python decoder of the same layout */
    PyObject *program; /* the program's tuples, which own what the nodes borrow */
    int flexible;
    Node *root;        /* compiled on first use, so that importing a module stays cheap */
    vectorcallfunc vectorcall;
} Program;

static PyObject *call_python(Program *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    return PyObject_Vectorcall(self->python, args, nargsf, kwnames);
}

static int compile_program(Program *self) {
    if (self->root == NULL) self->root = compile_node(self->program);
    return self->root == NULL ? -1 : 0;
}

/* program(b, o) -> (message, offset), as the Python decoder. */
static PyObject *program_call(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    Program *self = (Program *)callable;
    if (PyVectorcall_NARGS(nargsf) != 2 || kwnames != NULL) return call_python(self, args, nargsf, kwnames);
    PyObject *data = args[0], *start = args[1];
    if (!(PyBytes_CheckExact(data) || PyByteArray_CheckExact(data)) || !PyLong_CheckExact(start))
        return call_python(self, args, nargsf, kwnames);
    if (compile_program(self) < 0) return NULL;
    Py_ssize_t o = PyLong_AsSsize_t(start);
    if (o < 0) { /* an offset from the end, or one too large to be one */
        PyErr_Clear();
        return call_python(self, args, nargsf, kwnames);
    }
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *message = NULL;
    Reader r = {view.buf, view.len, o, self->flexible};
    if (o <= view.len) message = read_struct(&r, self->root);
    PyBuffer_Release(&view);
    if (message == NULL) {
        PyErr_Clear();
        return call_python(self, args, nargsf, kwnames);
    }
    PyObject *end = PyLong_FromSsize_t(r.o);
    if (end == NULL) {
        Py_DECREF(message);
        return NULL;
    }
    PyObject *result = PyTuple_New(2);
    if (result == NULL) {
        Py_DECREF(message);
        Py_DECREF(end);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, message);
    PyTuple_SET_ITEM(result, 1, end);
    return result;
}

static PyObject *program_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"python", "flexible", "program", NULL};
    PyObject *python, *program;
    int flexible;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OpO!:Program", keywords, &python, &flexible, &PyTuple_Type,
                                     &program))
        return NULL;
    if (!PyCallable_Check(python)) {
        PyErr_SetString(PyExc_TypeError, "python must be the decoder to call on malformed bytes");
        return NULL;
    }
    Program *self = (Program *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    Py_INCREF(python);
    Py_INCREF(program);
    self->python = python;
    self->program = program;
    self->flexible = flexible;
    self->vectorcall = program_call;
    return (PyObject *)self;
}

static PyObject *program_compile(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    if (compile_program((Program *)self) < 0) return NULL;
    Py_RETURN_NONE;
}

static int program_traverse(Program *self, visitproc visit, void *arg) {
    Py_VISIT(self->python);
    Py_VISIT(self->program);
    return 0;
}

static int program_clear(Program *self) {
    /* The nodes borrow from the program tuple: free them before letting it go. */
    free_node(self->root);
    self->root = NULL;
    Py_CLEAR(self->python);
    Py_CLEAR(self->program);
    return 0;
}

static void program_dealloc(Program *self) {
    PyObject_GC_UnTrack(self);
    program_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *program_repr(Program *self) {
    return PyUnicode_FromFormat("<compiled %R>", self->python);
}

static PyMethodDef program_methods[] = {
    {"compile", program_compile, METH_NOARGS, "Compile the program now (it is otherwise compiled on first use)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef program_members[] = {
    {"python", T_OBJECT_EX, offsetof(Program, python), READONLY, "The generated Python decoder."},
    {"program", T_OBJECT_EX, offsetof(Program, program), READONLY, "The program, as the generator wrote it."},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject ProgramType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kctl.protocol._decode.Program",
    .tp_doc = "Program(python, flexible, program): a generated decoder run from its program.",
    .tp_basicsize = sizeof(Program),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = program_new,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Program, vectorcall),
    .tp_traverse = (traverseproc)program_traverse,
    .tp_clear = (inquiry)program_clear,
    .tp_dealloc = (destructor)program_dealloc,
    .tp_repr = (reprfunc)program_repr,
    .tp_methods = program_methods,
    .tp_members = program_members,
};

/* Finds uuid.UUID's slots; leaves uuid_int_slot at -1 (build by calling UUID) if they differ. */
static int find_uuid_slots(void) {
    PyObject *module = PyImport_ImportModule("uuid");
    if (module == NULL) return -1;
    uuid_type = (PyTypeObject *)PyObject_GetAttrString(module, "UUID");
    PyObject *safe = PyObject_GetAttrString(module, "SafeUUID");
    Py_DECREF(module);
    if (uuid_type == NULL || safe == NULL) {
        Py_XDECREF(safe);
        return -1;
    }
    uuid_unknown = PyObject_GetAttrString(safe, "unknown");
    Py_DECREF(safe);
    if (uuid_unknown == NULL) return -1;
    PyObject *int_name = PyUnicode_FromString("int"), *safe_name = PyUnicode_FromString("is_safe");
    Py_ssize_t int_slot, safe_slot;
    if (int_name && safe_name && PyType_Check(uuid_type) && slot_offset(uuid_type, int_name, &int_slot) == 0 &&
        slot_offset(uuid_type, safe_name, &safe_slot) == 0) {
        uuid_int_slot = int_slot;
        uuid_safe_slot = safe_slot;
    }
    PyErr_Clear();
    Py_XDECREF(int_name);
    Py_XDECREF(safe_name);
    return 0;
}

static struct PyModuleDef decode_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "kctl.protocol._decode",
    .m_doc = "The generated decoders, run from a program instead of as Python (see codegen.py).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__decode(void) {
    if (find_uuid_slots() < 0 || PyType_Ready(&ProgramType) < 0) return NULL;
    PyObject *module = PyModule_Create(&decode_module);
    if (module == NULL) return NULL;
    Py_INCREF(&ProgramType);
    if (PyModule_AddObject(module, "Program", (PyObject *)&ProgramType) < 0) {
        Py_DECREF(&ProgramType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
