/* Rows given as columns, written as text: the hot loop of `RowWriter.write_columns`.
 *
 * `kctl lag` over 500 groups x 1,000 partitions writes half a million rows; formatting them one
 * Python %-template per row costs about a microsecond a row. This does the same in one pass into
 * one buffer. It is optional: without a C compiler, output.py formats the same text in Python,
 * and the tests hold the two to the same bytes.
 *
 * rows_text(parts, columns, text, texts, sep="", widths=None, raw_str=False, rstrip=False) -> str
 *
 *   Row i is parts[0], cell(columns[0][i]), parts[1], ..., cell(columns[k-1][i]), parts[k];
 *   rows are joined by `sep`. A cell is:
 *     - an int (exactly int, not bool): its decimal digits;
 *     - with raw_str, a str (exactly str): the str itself;
 *     - otherwise text(value), kept in the dict `texts` for strs, floats (not NaN, not zero)
 *       and None, whose texts repeat (topics, states, ages shared by many groups). No str
 *       equals a float or None, so one dict holds them all, as the Python path keeps them.
 *   widths[c] > 0 right-justifies column c's cell to that many characters, < 0 left-justifies,
 *   0 leaves it; rstrip drops ASCII whitespace at the end of each row before its last part
 *   (str.rstrip does the same for the ASCII texts of a table).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

typedef struct {
    char *data;
    Py_ssize_t len;
    Py_ssize_t cap;
    int ascii; /* everything put so far: then the str is made without decoding */
} Buffer;

static int reserve(Buffer *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap) {
        return 0;
    }
    Py_ssize_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + extra) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    char *grown = PyMem_Realloc(b->data, (size_t)cap);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = grown;
    b->cap = cap;
    return 0;
}

static inline int put(Buffer *b, const char *s, Py_ssize_t n) {
    if (b->len + n > b->cap && reserve(b, n) < 0) {
        return -1;
    }
    char *to = b->data + b->len;
    if (n <= 16) { /* most cells and parts: a call to memcpy costs more than the copy */
        for (Py_ssize_t i = 0; i < n; i++) {
            to[i] = s[i];
        }
    } else {
        memcpy(to, s, (size_t)n);
    }
    b->len += n;
    return 0;
}

static int pad(Buffer *b, Py_ssize_t n) {
    if (n <= 0) {
        return 0;
    }
    if (reserve(b, n) < 0) {
        return -1;
    }
    memset(b->data + b->len, ' ', (size_t)n);
    b->len += n;
    return 0;
}

/* text (UTF-8 bytes, `chars` characters) justified to `width` (see the header). */
static int put_justified(Buffer *b, const char *s, Py_ssize_t n, Py_ssize_t chars, Py_ssize_t width) {
    if (width > 0 && pad(b, width - chars) < 0) {
        return -1;
    }
    if (put(b, s, n) < 0) {
        return -1;
    }
    return width < 0 ? pad(b, -width - chars) : 0;
}

static int put_str(Buffer *b, PyObject *str, Py_ssize_t width) {
    Py_ssize_t n;
    b->ascii &= PyUnicode_IS_ASCII(str);
    const char *s = PyUnicode_AsUTF8AndSize(str, &n);
    if (s == NULL) {
        return -1;
    }
    return put_justified(b, s, n, PyUnicode_GET_LENGTH(str), width);
}

static int put_int(Buffer *b, PyObject *value, Py_ssize_t width) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow) { /* past 64 bits: Python's own digits */
        PyObject *str = PyObject_Str(value);
        if (str == NULL) {
            return -1;
        }
        int done = put_str(b, str, width);
        Py_DECREF(str);
        return done;
    }
    char digits[24];
    char *end = digits + sizeof digits;
    char *p = end;
    unsigned long long magnitude = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (v < 0) {
        *--p = '-';
    }
    return put_justified(b, p, end - p, end - p, width);
}

/* Whether a value's text is kept in `texts`. Not a NaN (never equal to itself) nor a zero
 * (0.0 and -0.0 are equal keys with different texts): `zeros` keeps those for one call. */
static int kept(PyObject *value) {
    if (value == Py_None || PyUnicode_Check(value)) {
        return 1;
    }
    if (!PyFloat_CheckExact(value)) {
        return 0;
    }
    double v = PyFloat_AS_DOUBLE(value);
    return !Py_IS_NAN(v) && v != 0.0;
}

static int put_made(Buffer *b, PyObject *made, Py_ssize_t width) {
    if (!PyUnicode_Check(made)) {
        PyErr_Format(PyExc_TypeError, "text() returned %.100s, not str", Py_TYPE(made)->tp_name);
        return -1;
    }
    return put_str(b, made, width);
}

/* `*used` is set to the kept text written (borrowed), or NULL. */
static int put_text(Buffer *b, PyObject *value, PyObject *text, PyObject *texts, PyObject **zeros,
                    Py_ssize_t width, PyObject **used) {
    *used = NULL;
    if (kept(value)) {
        PyObject *found = PyDict_GetItemWithError(texts, value); /* borrowed */
        if (found != NULL) {
            *used = found;
            return put_str(b, found, width);
        }
        if (PyErr_Occurred()) {
            return -1;
        }
        PyObject *made = PyObject_CallOneArg(text, value);
        if (made == NULL) {
            return -1;
        }
        int done = PyUnicode_Check(made) ? PyDict_SetItem(texts, value, made) : 0;
        if (done == 0) {
            done = put_made(b, made, width);
            *used = made;
        }
        Py_DECREF(made);
        return done;
    }
    if (PyFloat_CheckExact(value) && PyFloat_AS_DOUBLE(value) == 0.0) {
        PyObject **zero = &zeros[copysign(1.0, PyFloat_AS_DOUBLE(value)) < 0];
        if (*zero == NULL && (*zero = PyObject_CallOneArg(text, value)) == NULL) {
            return -1;
        }
        return put_made(b, *zero, width);
    }
    PyObject *made = PyObject_CallOneArg(text, value);
    if (made == NULL) {
        return -1;
    }
    int done = put_made(b, made, width);
    Py_DECREF(made);
    return done;
}

static int is_ascii_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

static PyObject *rows_text(PyObject *module, PyObject *args, PyObject *kwargs) {
    (void)module;
    static char *keywords[] = {"parts", "columns", "text", "texts", "sep", "widths", "raw_str", "rstrip", NULL};
    PyObject *parts, *columns, *text, *texts, *sep = NULL, *widths = Py_None;
    int raw_str = 0, rstrip = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!OO!|UOpp:rows_text", keywords, &PyTuple_Type, &parts,
                                     &PyTuple_Type, &columns, &text, &PyDict_Type, &texts, &sep, &widths,
                                     &raw_str, &rstrip)) {
        return NULL;
    }
    Py_ssize_t k = PyTuple_GET_SIZE(columns);
    if (PyTuple_GET_SIZE(parts) != k + 1) {
        PyErr_SetString(PyExc_ValueError, "rows_text: parts must be one longer than columns");
        return NULL;
    }
    if (widths != Py_None && (!PyTuple_Check(widths) || PyTuple_GET_SIZE(widths) != k)) {
        PyErr_SetString(PyExc_ValueError, "rows_text: widths must be a tuple as long as columns");
        return NULL;
    }

    PyObject *result = NULL;
    PyObject *zeros[2] = {NULL, NULL}; /* the texts of 0.0 and -0.0 */
    Buffer out = {NULL, 0, 0, 1};
    Py_ssize_t *width = PyMem_Calloc((size_t)k + 1, sizeof(Py_ssize_t));
    PyObject **fast = PyMem_Calloc((size_t)k + 1, sizeof(PyObject *));
    PyObject ***items = PyMem_Calloc((size_t)k + 1, sizeof(PyObject **)); /* each column's values */
    PyObject **last_value = PyMem_Calloc((size_t)k + 1, sizeof(PyObject *)); /* and its kept text */
    PyObject **last_text = PyMem_Calloc((size_t)k + 1, sizeof(PyObject *));
    const char **part = PyMem_Calloc((size_t)k + 1, sizeof(char *));
    Py_ssize_t *part_len = PyMem_Calloc((size_t)k + 1, sizeof(Py_ssize_t));
    const char *sep_s = "";
    Py_ssize_t sep_len = 0;
    if (width == NULL || fast == NULL || items == NULL || last_value == NULL || last_text == NULL || part == NULL ||
        part_len == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (sep != NULL) {
        if ((sep_s = PyUnicode_AsUTF8AndSize(sep, &sep_len)) == NULL) {
            goto done;
        }
        out.ascii &= PyUnicode_IS_ASCII(sep);
    }
    for (Py_ssize_t c = 0; c <= k; c++) {
        PyObject *p = PyTuple_GET_ITEM(parts, c);
        if (!PyUnicode_Check(p)) {
            PyErr_SetString(PyExc_TypeError, "rows_text: parts must be strs");
            goto done;
        }
        if ((part[c] = PyUnicode_AsUTF8AndSize(p, &part_len[c])) == NULL) {
            goto done;
        }
        out.ascii &= PyUnicode_IS_ASCII(p);
    }
    Py_ssize_t n = -1;
    for (Py_ssize_t c = 0; c < k; c++) {
        if (widths != Py_None) {
            width[c] = PyLong_AsSsize_t(PyTuple_GET_ITEM(widths, c));
            if (width[c] == -1 && PyErr_Occurred()) {
                goto done;
            }
        }
        fast[c] = PySequence_Fast(PyTuple_GET_ITEM(columns, c), "rows_text: a column must be a sequence");
        if (fast[c] == NULL) {
            goto done;
        }
        Py_ssize_t rows = PySequence_Fast_GET_SIZE(fast[c]);
        items[c] = PySequence_Fast_ITEMS(fast[c]);
        if (n >= 0 && rows != n) {
            PyErr_SetString(PyExc_ValueError, "rows_text: columns differ in length");
            goto done;
        }
        n = rows;
    }
    if (n < 0) {
        n = 0;
    }

    for (Py_ssize_t i = 0; i < n; i++) {
        if (i && put(&out, sep_s, sep_len) < 0) {
            goto done;
        }
        Py_ssize_t row_start = out.len;
        if (put(&out, part[0], part_len[0]) < 0) {
            goto done;
        }
        for (Py_ssize_t c = 0; c < k; c++) {
            PyObject *value = items[c][i]; /* borrowed */
            int written;
            if (PyLong_CheckExact(value)) {
                written = put_int(&out, value, width[c]);
            } else if (raw_str && PyUnicode_CheckExact(value)) {
                written = put_str(&out, value, width[c]);
            } else if (value == last_value[c]) { /* a run of one value: topics, groups, ages */
                written = put_str(&out, last_text[c], width[c]);
            } else {
                PyObject *used;
                written = put_text(&out, value, text, texts, zeros, width[c], &used);
                if (written == 0 && used != NULL) {
                    Py_INCREF(value);
                    Py_XSETREF(last_value[c], value);
                    Py_INCREF(used);
                    Py_XSETREF(last_text[c], used);
                }
            }
            if (written < 0) {
                goto done;
            }
            if (c + 1 < k && put(&out, part[c + 1], part_len[c + 1]) < 0) {
                goto done;
            }
        }
        if (rstrip) {
            while (out.len > row_start && is_ascii_space(out.data[out.len - 1])) {
                out.len--;
            }
        }
        if (k && put(&out, part[k], part_len[k]) < 0) {
            goto done;
        }
    }
    if (out.ascii) { /* the usual case: a copy, not a decode that checks every byte */
        if ((result = PyUnicode_New(out.len, 127)) != NULL && out.len) {
            memcpy(PyUnicode_1BYTE_DATA(result), out.data, (size_t)out.len);
        }
    } else {
        result = PyUnicode_DecodeUTF8(out.data ? out.data : "", out.len, "strict");
    }

done:
    Py_XDECREF(zeros[0]);
    Py_XDECREF(zeros[1]);
    for (Py_ssize_t c = 0; c < k; c++) {
        if (fast != NULL) {
            Py_XDECREF(fast[c]);
        }
        if (last_value != NULL) {
            Py_XDECREF(last_value[c]);
        }
        if (last_text != NULL) {
            Py_XDECREF(last_text[c]);
        }
    }
    PyMem_Free(fast);
    PyMem_Free(items);
    PyMem_Free(last_value);
    PyMem_Free(last_text);
    PyMem_Free(width);
    PyMem_Free(part);
    PyMem_Free(part_len);
    PyMem_Free(out.data);
    return result;
}

static PyMethodDef methods[] = {
    {"rows_text", (PyCFunction)(void (*)(void))rows_text, METH_VARARGS | METH_KEYWORDS,
     "rows_text(parts, columns, text, texts, sep='', widths=None, raw_str=False, rstrip=False) -> str\n\n"
     "Rows given as columns, as one text (see kctl/cli/_rowtext.c)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_rowtext", "Rows given as columns, written as text, in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__rowtext(void) { return PyModule_Create(&module); }
