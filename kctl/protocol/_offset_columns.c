/* One group's committed offsets from an OffsetFetch answer (v8+), read into three columns in C:
 * the plain path of offset_columns.py (`_plain_topics`), which it mirrors exactly.
 *
 * plain_topics(b, o, names) -> (topics, partitions, offsets, o) | None
 *
 *   b[o:] is a group's topics array. Every entry must be 20 bytes (no metadata, no tagged
 *   fields) and every topic name must take one length byte, as `_plain_topics` requires;
 *   otherwise, or when the bytes end early or a name is not UTF-8, the answer is None
 *   and the caller reads the group in Python, which says what is wrong. Rows are sorted by topic
 *   and then by the whole entry (partition first), and only entries with an offset (>= 0) and no
 *   error are kept. `names` maps a topic name's bytes to its str, shared between groups.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY 20

typedef struct {
    const unsigned char *name;
    Py_ssize_t name_len;
    Py_ssize_t start; /* where its entries start in b */
    Py_ssize_t count;
    PyObject *str; /* borrowed from `names` */
} Span;

typedef struct {
    int32_t partition;
    int64_t offset;
    int32_t epoch;
    uint8_t metadata;
    int16_t error;
    uint8_t tags;
} Entry;

static int32_t be32(const unsigned char *p) {
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}

static int64_t be64(const unsigned char *p) {
    return (int64_t)((uint64_t)(uint32_t)be32(p) << 32 | (uint64_t)(uint32_t)be32(p + 4));
}

static int compare_spans(const void *a, const void *b) {
    const Span *x = a, *y = b;
    Py_ssize_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, (size_t)n); /* UTF-8 bytes sort as their code points do */
    if (c) {
        return c;
    }
    if (x->name_len != y->name_len) {
        return x->name_len < y->name_len ? -1 : 1;
    }
    return (x->start > y->start) - (x->start < y->start);
}

#define CMP(f)                                  \
    if (x->f != y->f) {                         \
        return x->f < y->f ? -1 : 1;            \
    }

static int compare_entries(const void *a, const void *b) { /* as Python sorts the entry tuples */
    const Entry *x = a, *y = b;
    CMP(partition) CMP(offset) CMP(epoch) CMP(metadata) CMP(error) CMP(tags)
    return 0;
}

/* A compact array's length: 0 when it does not fit the rest of b, or is null. */
static int array_length(const unsigned char *b, Py_ssize_t len, Py_ssize_t *o, Py_ssize_t *count) {
    uint64_t raw = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        if (*o >= len) {
            return 0;
        }
        unsigned char byte = b[(*o)++];
        raw |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            if (raw == 0 || (Py_ssize_t)(raw - 1) > len - *o) {
                return 0;
            }
            *count = (Py_ssize_t)(raw - 1);
            return 1;
        }
    }
    return 0;
}

static PyObject *plain_topics(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer view;
    Py_ssize_t o;
    PyObject *names;
    if (!PyArg_ParseTuple(args, "y*nO!:plain_topics", &view, &o, &PyDict_Type, &names)) {
        return NULL;
    }
    const unsigned char *b = view.buf;
    Py_ssize_t len = view.len;
    PyObject *result = NULL, *topics = NULL, *partitions = NULL, *offsets = NULL;
    Span *spans = NULL;
    Entry *entries = NULL;
    Py_ssize_t count = 0, total = 0;

    if (o < 0 || !array_length(b, len, &o, &count)) {
        goto not_plain;
    }
    spans = PyMem_Calloc((size_t)count + 1, sizeof(Span));
    if (spans == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t t = 0; t < count; t++) {
        if (o >= len || !(0 < b[o] && b[o] < 128) || o + b[o] >= len) {
            goto not_plain;
        }
        Span *span = &spans[t];
        span->name = b + o + 1;
        span->name_len = b[o] - 1;
        o += b[o];
        if (!array_length(b, len, &o, &span->count)) {
            goto not_plain;
        }
        span->start = o;
        if (span->count > (len - o) / ENTRY) {
            goto not_plain;
        }
        o += span->count * ENTRY;
        if (o >= len || b[o]) { /* the topic's tagged fields */
            goto not_plain;
        }
        o += 1;
        total += span->count;
    }
    qsort(spans, (size_t)count, sizeof(Span), compare_spans);

    entries = PyMem_Calloc((size_t)total + 1, sizeof(Entry));
    if (entries == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t at = 0, kept = 0;
    for (Py_ssize_t t = 0; t < count; t++) {
        Span *span = &spans[t];
        PyObject *raw = PyBytes_FromStringAndSize((const char *)span->name, span->name_len);
        if (raw == NULL) {
            goto done;
        }
        span->str = PyDict_GetItemWithError(names, raw);
        if (span->str == NULL) {
            if (PyErr_Occurred()) {
                Py_DECREF(raw);
                goto done;
            }
            PyObject *str = PyUnicode_DecodeUTF8((const char *)span->name, span->name_len, "strict");
            if (str == NULL) {
                Py_DECREF(raw);
                if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                    PyErr_Clear();
                    goto not_plain;
                }
                goto done;
            }
            int stored = PyDict_SetItem(names, raw, str);
            Py_DECREF(str); /* `names` holds it */
            if (stored < 0) {
                Py_DECREF(raw);
                goto done;
            }
            span->str = str;
        }
        Py_DECREF(raw);
        for (Py_ssize_t i = 0; i < span->count; i++) {
            const unsigned char *p = b + span->start + i * ENTRY;
            Entry *e = &entries[at + i];
            e->partition = be32(p);
            e->offset = be64(p + 4);
            e->epoch = be32(p + 12);
            e->metadata = p[16];
            e->error = (int16_t)((uint16_t)p[17] << 8 | p[18]);
            e->tags = p[19];
            if (e->metadata > 1 || e->tags) { /* metadata (0: null, 1: "") or tagged fields */
                goto not_plain;
            }
            if (e->offset >= 0 && !e->error) {
                kept++;
            }
        }
        if (span->count > 1) {
            qsort(entries + at, (size_t)span->count, sizeof(Entry), compare_entries);
        }
        at += span->count;
    }

    topics = PyList_New(kept);
    partitions = PyList_New(kept);
    offsets = PyList_New(kept);
    if (topics == NULL || partitions == NULL || offsets == NULL) {
        goto done;
    }
    Py_ssize_t row = 0;
    at = 0;
    for (Py_ssize_t t = 0; t < count; t++) {
        for (Py_ssize_t i = 0; i < spans[t].count; i++) {
            Entry *e = &entries[at + i];
            if (e->offset < 0 || e->error) {
                continue;
            }
            PyObject *partition = PyLong_FromLong(e->partition);
            PyObject *offset = PyLong_FromLongLong(e->offset);
            if (partition == NULL || offset == NULL) {
                Py_XDECREF(partition);
                Py_XDECREF(offset);
                goto done;
            }
            Py_INCREF(spans[t].str);
            PyList_SET_ITEM(topics, row, spans[t].str);
            PyList_SET_ITEM(partitions, row, partition);
            PyList_SET_ITEM(offsets, row, offset);
            row++;
        }
        at += spans[t].count;
    }
    result = Py_BuildValue("(OOOn)", topics, partitions, offsets, o);
    goto done;

not_plain:
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(topics);
    Py_XDECREF(partitions);
    Py_XDECREF(offsets);
    PyMem_Free(spans);
    PyMem_Free(entries);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"plain_topics", plain_topics, METH_VARARGS,
     "plain_topics(b, o, names) -> (topics, partitions, offsets, o) | None\n\n"
     "A group's committed offsets when every entry is 20 bytes (see kctl/protocol/_offset_columns.c)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_offset_columns", "OffsetFetch answers read into columns, in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__offset_columns(void) { return PyModule_Create(&module); }
