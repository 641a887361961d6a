/*
 * The lines of a chunk that hold any of a few needles, in file order, each
 * once: what tail.lines_with gives, in one pass for all the needles.
 * Shared by ingest/_rows.c (lines_with) and sources/codex/_rollout.c.
 *
 * memmem per needle, each looked for again only past the line it was last
 * found in.
 */
#ifndef TMUXTOK_NEEDLES_H
#define TMUXTOK_NEEDLES_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_NEEDLES 8

typedef struct {
    const char *buf;
    Py_ssize_t start, end, from;
    Py_ssize_t k;
    const char *nd[MAX_NEEDLES];
    Py_ssize_t nl[MAX_NEEDLES], at[MAX_NEEDLES]; /* next place at or after `from`; -1 none */
} Needles;

/* Set up a search of buf[start:end] (start 0 or just after a newline) for
 * the bytes in `needles`, a tuple: 0, or -1 with an exception set. */
static int needles_init(Needles *n, const char *buf, Py_ssize_t len, Py_ssize_t start,
                        Py_ssize_t end, PyObject *needles) {
    n->k = PyTuple_GET_SIZE(needles);
    if (n->k < 1 || n->k > MAX_NEEDLES) {
        PyErr_SetString(PyExc_ValueError, "one to eight needles");
        return -1;
    }
    n->buf = buf;
    n->start = start < 0 ? 0 : start;
    n->end = end > len ? len : end;
    n->from = n->start;
    for (Py_ssize_t i = 0; i < n->k; i++) {
        PyObject *b = PyTuple_GET_ITEM(needles, i);
        if (!PyBytes_Check(b) || PyBytes_GET_SIZE(b) == 0) {
            PyErr_SetString(PyExc_TypeError, "needles must be non-empty bytes");
            return -1;
        }
        n->nd[i] = PyBytes_AS_STRING(b);
        n->nl[i] = PyBytes_GET_SIZE(b);
        n->at[i] = -2; /* not looked for yet */
    }
    return 0;
}

/* The next line holding a needle, as [*s, *e) without its newline: 1, or 0 if none. */
static int needles_next(Needles *n, Py_ssize_t *s, Py_ssize_t *e) {
    const char *b = n->buf;
    Py_ssize_t from = n->from, end = n->end, start = n->start;
    if (from >= end) return 0;
    Py_ssize_t first = -1;
    for (Py_ssize_t i = 0; i < n->k; i++) {
        if (n->at[i] == -2 || (n->at[i] >= 0 && n->at[i] < from)) {
            const char *hit = memmem(b + from, (size_t)(end - from), n->nd[i], (size_t)n->nl[i]);
            n->at[i] = hit ? hit - b : -1;
        }
        if (n->at[i] >= 0 && (first < 0 || n->at[i] < first)) first = n->at[i];
    }
    if (first < 0) {
        n->from = end;
        return 0;
    }
    const char *nl_before = first > start ? memrchr(b + start, '\n', (size_t)(first - start)) : NULL;
    *s = nl_before ? nl_before - b + 1 : start;
    const char *nl_after = memchr(b + first, '\n', (size_t)(end - first));
    *e = nl_after ? nl_after - b : end;
    n->from = *e + 1;
    return 1;
}

#endif
