/* The produce path's record check in C: `check_records_python` in records.py, which it mirrors
 * exactly, check for check and in the same order, so that both give the same answer.
 *
 * check_records(data, count, keys_required) -> (min_delta, max_delta) | (kind, message)
 *
 *   data is a batch's decompressed records section (any buffer). On success the answer is the
 *   smallest and largest timestamp deltas ((0, 0) for no records); otherwise (1, message) for
 *   bytes that do not read as records (CorruptRecordError) or (2, message) for records that
 *   break a rule (InvalidRecordError): a str second. The caller raises.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

enum { OK = 0, CORRUPT = 1, INVALID = 2 };

typedef struct {
    const unsigned char *b;
    Py_ssize_t end;
    Py_ssize_t o;
    int kind;
    char message[160];
} Reader;

static int fail(Reader *r, int kind, const char *message) {
    r->kind = kind;
    snprintf(r->message, sizeof r->message, "%s", message);
    return -1;
}

/* An unsigned varint of at most max_bytes bytes, as _wire._read_unsigned reads it. */
static int read_unsigned(Reader *r, int max_bytes, uint64_t *value, int *too_big) {
    uint64_t v = 0;
    int shift = 0;
    *too_big = 0;
    for (int i = 0;; i++) {
        if (i >= max_bytes) {
            char text[64];
            snprintf(text, sizeof text, "malformed record: varint longer than %d bytes", max_bytes);
            return fail(r, CORRUPT, text);
        }
        if (r->o >= r->end) {
            return fail(r, CORRUPT, "malformed record: truncated varint");
        }
        unsigned char byte = r->b[r->o++];
        uint64_t bits = (uint64_t)(byte & 0x7F);
        if (shift == 63 && bits > 1) {
            *too_big = 1;
        }
        if (shift < 64) {
            v |= bits << shift;
        }
        if (byte < 0x80) {
            *value = v;
            return 0;
        }
        shift += 7;
    }
}

/* Nearly every length and delta in a record is a varint of one or two bytes: read those inline. */
static inline int short_varint(Reader *r, int64_t *out) {
    const unsigned char *p = r->b + r->o;
    if (r->o < r->end && p[0] < 0x80) {
        r->o += 1;
        *out = (int64_t)(p[0] >> 1) ^ -(int64_t)(p[0] & 1);
        return 1;
    }
    if (r->o + 1 < r->end && p[1] < 0x80) {
        uint32_t raw = (uint32_t)(p[0] & 0x7F) | (uint32_t)p[1] << 7;
        r->o += 2;
        *out = (int64_t)(raw >> 1) ^ -(int64_t)(raw & 1);
        return 1;
    }
    return 0;
}

static inline int read_varint(Reader *r, int64_t *out) {
    if (short_varint(r, out)) {
        return 0;
    }
    uint64_t raw;
    int too_big;
    if (read_unsigned(r, 5, &raw, &too_big) < 0) {
        return -1;
    }
    if (raw > 0xFFFFFFFFULL) {
        return fail(r, CORRUPT, "malformed record: varint does not fit in 32 bits");
    }
    *out = (int64_t)(raw >> 1) ^ -(int64_t)(raw & 1);
    return 0;
}

static inline int read_varlong(Reader *r, int64_t *out) {
    if (short_varint(r, out)) {
        return 0;
    }
    uint64_t raw;
    int too_big;
    if (read_unsigned(r, 10, &raw, &too_big) < 0) {
        return -1;
    }
    if (too_big) {
        return fail(r, CORRUPT, "malformed record: varlong does not fit in 64 bits");
    }
    *out = (int64_t)(raw >> 1) ^ -(int64_t)(raw & 1);
    return 0;
}

/* A nullable field: its varint length, -1 (null) or one that stays inside the record, and past
 * its bytes. `what` words the error, with the record's index and the length. */
static inline int skip_nullable(Reader *r, Py_ssize_t record_end, const char *what, Py_ssize_t index, int64_t *length) {
    if (read_varint(r, length) < 0) {
        return -1;
    }
    int64_t bytes = *length > 0 ? *length : 0;
    if (*length < -1 || r->o + bytes > record_end) {
        char text[160];
        snprintf(text, sizeof text, what, index, (long long)*length);
        return fail(r, CORRUPT, text);
    }
    r->o += bytes;
    return 0;
}

static int check(Reader *r, Py_ssize_t count, int keys_required, int64_t *min_delta, int64_t *max_delta) {
    char text[160];
    for (Py_ssize_t index = 0; index < count; index++) {
        int64_t length, delta, offset_delta, key_len, value_len, headers;
        if (r->o >= r->end) {
            snprintf(text, sizeof text, "the batch holds fewer records than its count of %zd", count);
            return fail(r, CORRUPT, text);
        }
        if (read_varint(r, &length) < 0) {
            return -1;
        }
        Py_ssize_t record_end = r->o + (Py_ssize_t)length;
        if (length < 0 || record_end > r->end) {
            snprintf(text, sizeof text, "record %zd's length %lld runs past the end of its batch", index,
                     (long long)length);
            return fail(r, CORRUPT, text);
        }
        r->o += 1; /* attributes */
        if (read_varlong(r, &delta) < 0) {
            return -1;
        }
        if (delta > *max_delta) {
            *max_delta = delta;
        }
        if (delta < *min_delta) {
            *min_delta = delta;
        }
        if (read_varint(r, &offset_delta) < 0) {
            return -1;
        }
        if (offset_delta != index) {
            snprintf(text, sizeof text, "record %zd has offset delta %lld: offsets must be in sequence", index,
                     (long long)offset_delta);
            return fail(r, INVALID, text);
        }
        if (skip_nullable(r, record_end, "record %zd's key length %lld is out of range", index, &key_len) < 0) {
            return -1;
        }
        if (key_len == -1 && keys_required) {
            return fail(r, INVALID, "a compacted topic does not accept records without a key");
        }
        if (skip_nullable(r, record_end, "record %zd's value length %lld is out of range", index, &value_len) < 0) {
            return -1;
        }
        if (read_varint(r, &headers) < 0) {
            return -1;
        }
        if (headers < 0 || headers > record_end - r->o) {
            snprintf(text, sizeof text, "record %zd's header count %lld is out of range", index,
                     (long long)headers);
            return fail(r, CORRUPT, text);
        }
        for (int64_t h = 0; h < headers; h++) {
            int64_t name_len, header_len;
            if (read_varint(r, &name_len) < 0) {
                return -1;
            }
            if (name_len < 0 || r->o + name_len > record_end) {
                snprintf(text, sizeof text, "record %zd has a header key of length %lld", index,
                         (long long)name_len);
                return fail(r, CORRUPT, text);
            }
            r->o += name_len;
            if (skip_nullable(r, record_end, "record %zd has a header value of length %lld", index, &header_len) < 0) {
                return -1;
            }
        }
        if (r->o != record_end) {
            snprintf(text, sizeof text, "record %zd's length %lld does not match its contents", index,
                     (long long)length);
            return fail(r, CORRUPT, text);
        }
    }
    if (r->o != r->end) {
        snprintf(text, sizeof text, "%zd bytes left over after the batch's %zd records", r->end - r->o, count);
        return fail(r, CORRUPT, text);
    }
    return 0;
}

static PyObject *check_records(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t count;
    int keys_required;
    if (!PyArg_ParseTuple(args, "y*np", &view, &count, &keys_required)) {
        return NULL;
    }
    Reader r = {.b = view.buf, .end = view.len, .o = 0, .kind = OK};
    int64_t min_delta = INT64_MAX, max_delta = INT64_MIN;
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = check(&r, count, keys_required, &min_delta, &max_delta);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (failed < 0) {
        return Py_BuildValue("(is)", r.kind, r.message);
    }
    if (!count) {
        min_delta = max_delta = 0;
    }
    return Py_BuildValue("(LL)", (long long)min_delta, (long long)max_delta);
}

static PyMethodDef methods[] = {
    {"check_records", check_records, METH_VARARGS, "Check a batch's records section; see records.py."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_check_records", NULL, -1, methods};

PyMODINIT_FUNC PyInit__check_records(void) { return PyModule_Create(&module); }
