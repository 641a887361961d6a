/*
 * json.dumps(obj, indent=2, ensure_ascii=False) in C, for the report texts.
 *
 * CPython 3.11's C encoder does not indent, so json (and _fastjson's Python
 * walk that writes the same bytes) step each value in Python: a year's
 * blocks --json and daily texts are ~20,000 values, a fifth of building the
 * report caches after a cold scan. indented(obj) writes the same bytes (a
 * property test holds it to json.dumps) for the values reports emit: dicts
 * (keys of str, int, float, bool or None), lists, tuples, str, int, float,
 * bool and None, of those exact types. For anything else (a subclass, a
 * string that is not UTF-8, nesting past MAX_DEPTH, a circular reference) it
 * returns None and the caller writes the text in Python, which gives the
 * same text or raises json's error.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct {
    char *s;
    size_t n, cap;
} Buf;

/* 0, or -1 out of memory (an error set). */
static int put(Buf *b, const char *s, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        char *grown = PyMem_Realloc(b->s, cap);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->s = grown;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    return 0;
}

static int newline(Buf *b, int depth) {
    if (put(b, "\n", 1) < 0)
        return -1;
    for (int i = 0; i < depth; i++)
        if (put(b, "  ", 2) < 0)
            return -1;
    return 0;
}

/* json's encode_basestring: quotes, backslash and control characters escaped,
 * everything else as it is. 0, -1 (an error set), or 1: not UTF-8. */
static int text(Buf *b, PyObject *o) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(o, &n);
    if (s == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
            return -1;
        PyErr_Clear(); /* a lone surrogate: Python's way writes it */
        return 1;
    }
    if (put(b, "\"", 1) < 0)
        return -1;
    Py_ssize_t run = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (put(b, s + run, (size_t)(i - run)) < 0)
            return -1;
        run = i + 1;
        char esc[8];
        const char *e;
        switch (c) {
        case '"':
            e = "\\\"";
            break;
        case '\\':
            e = "\\\\";
            break;
        case '\n':
            e = "\\n";
            break;
        case '\r':
            e = "\\r";
            break;
        case '\t':
            e = "\\t";
            break;
        case '\b':
            e = "\\b";
            break;
        case '\f':
            e = "\\f";
            break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            e = esc;
        }
        if (put(b, e, strlen(e)) < 0)
            return -1;
    }
    if (put(b, s + run, (size_t)(n - run)) < 0 || put(b, "\"", 1) < 0)
        return -1;
    return 0;
}

/* float.__repr__, with json's NaN and Infinity. */
static int real(Buf *b, double v) {
    if (Py_IS_NAN(v))
        return put(b, "NaN", 3);
    if (Py_IS_INFINITY(v))
        return v > 0 ? put(b, "Infinity", 8) : put(b, "-Infinity", 9);
    char *r = PyOS_double_to_string(v, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (r == NULL)
        return -1;
    int rc = put(b, r, strlen(r));
    PyMem_Free(r);
    return rc;
}

/* int.__repr__. */
static int integer(Buf *b, PyObject *o) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (!overflow) {
        char s[32];
        int n = snprintf(s, sizeof s, "%lld", v);
        return put(b, s, (size_t)n);
    }
    PyObject *r = PyObject_Repr(o);
    if (r == NULL)
        return -1;
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(r, &n);
    int rc = s == NULL ? -1 : put(b, s, (size_t)n);
    Py_DECREF(r);
    return rc;
}

/* A dict key as json turns it into a string: 0, -1, or 1 (Python's way). */
static int key(Buf *b, PyObject *k) {
    if (PyUnicode_CheckExact(k))
        return text(b, k);
    if (k == Py_True)
        return put(b, "\"true\"", 6);
    if (k == Py_False)
        return put(b, "\"false\"", 7);
    if (k == Py_None)
        return put(b, "\"null\"", 6);
    if (!PyLong_CheckExact(k) && !PyFloat_CheckExact(k))
        return 1;
    if (put(b, "\"", 1) < 0)
        return -1;
    int rc = PyLong_CheckExact(k) ? integer(b, k) : real(b, PyFloat_AS_DOUBLE(k));
    if (rc == 0)
        rc = put(b, "\"", 1);
    return rc;
}

/* 0, -1 (an error set), or 1: a value left to Python's way. */
static int value(Buf *b, PyObject *o, int depth) {
    if (o == Py_None)
        return put(b, "null", 4);
    if (o == Py_True)
        return put(b, "true", 4);
    if (o == Py_False)
        return put(b, "false", 5);
    if (PyUnicode_CheckExact(o))
        return text(b, o);
    if (PyLong_CheckExact(o))
        return integer(b, o);
    if (PyFloat_CheckExact(o))
        return real(b, PyFloat_AS_DOUBLE(o));
    if (depth >= MAX_DEPTH)
        return 1; /* deep, or circular: json says which */
    if (PyDict_CheckExact(o)) {
        if (PyDict_GET_SIZE(o) == 0)
            return put(b, "{}", 2);
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        const char *sep = "{";
        while (PyDict_Next(o, &pos, &k, &v)) {
            int rc;
            if (put(b, sep, strlen(sep)) < 0 || newline(b, depth + 1) < 0)
                return -1;
            if ((rc = key(b, k)) != 0)
                return rc;
            if (put(b, ": ", 2) < 0)
                return -1;
            Py_INCREF(v); /* a value's own repr (a huge int) runs Python code */
            rc = value(b, v, depth + 1);
            Py_DECREF(v);
            if (rc != 0)
                return rc;
            sep = ",";
        }
        if (newline(b, depth) < 0)
            return -1;
        return put(b, "}", 1);
    }
    if (PyList_CheckExact(o) || PyTuple_CheckExact(o)) {
        PyObject *seq = PySequence_Fast(o, "");
        if (seq == NULL)
            return -1;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        int rc = 0;
        if (n == 0)
            rc = put(b, "[]", 2);
        for (Py_ssize_t i = 0; i < n && rc == 0; i++) {
            if (put(b, i ? "," : "[", 1) < 0 || newline(b, depth + 1) < 0) {
                rc = -1;
                break;
            }
            /* a list could change under a repr's Python code: index it afresh */
            if (i >= PySequence_Fast_GET_SIZE(seq)) {
                rc = 1;
                break;
            }
            PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
            Py_INCREF(item);
            rc = value(b, item, depth + 1);
            Py_DECREF(item);
        }
        if (rc == 0 && n > 0 && (newline(b, depth) < 0 || put(b, "]", 1) < 0))
            rc = -1;
        Py_DECREF(seq);
        return rc;
    }
    return 1;
}

static PyObject *indented(PyObject *self, PyObject *o) {
    (void)self;
    Buf b = {0};
    int rc = value(&b, o, 0);
    PyObject *out = NULL;
    if (rc == 0)
        out = PyUnicode_DecodeUTF8(b.s ? b.s : "", (Py_ssize_t)b.n, NULL);
    else if (rc > 0) {
        out = Py_None;
        Py_INCREF(out);
    }
    PyMem_Free(b.s);
    return out;
}

static PyMethodDef methods[] = {
    {"indented", indented, METH_O,
     "indented(obj) -> str, or None: json.dumps(obj, indent=2, ensure_ascii=False)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_jsontext", NULL, -1, methods};

PyMODINIT_FUNC PyInit__jsontext(void) { return PyModule_Create(&module); }
