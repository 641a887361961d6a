/*
 * ingest.batch.fold in C: merging one event (an entry, model.events.entry's
 * list of UsageEvent's fields) into a read's `merged` (key -> entry), as the
 * C line readers do as they read (sources/claude/_lines.c,
 * sources/codex/_rollout.c). tests/sources/test_properties.py and
 * test_codex_rollout.py hold it to the Python rule.
 */
#ifndef TMUXTOK_MERGED_H
#define TMUXTOK_MERGED_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if defined(__GNUC__) || defined(__clang__)
#define MERGED_MAYBE_UNUSED __attribute__((unused))
#else
#define MERGED_MAYBE_UNUSED
#endif

/* An entry is a list of model.events.UsageEvent's fields, in its order. */
enum {
    E_AGENT, E_KEY, E_TS, E_MODEL, E_INPUT, E_OUTPUT, E_CREATE, E_ONE_HOUR, E_READ,
    E_REASONING, E_TOTAL, E_SESSION, E_PROJECT, E_LEGACY, E_SIDECHAIN, E_SPEED, E_APPROX,
    E_FIELDS
};

/* ingest.batch.rank: a main-chain record first, then the larger total, then the
 * earlier time. */
typedef struct {
    int side;
    long long total, ts;
} Rank;

static MERGED_MAYBE_UNUSED int outranks(const Rank *a, const Rank *b) {
    if (a->side != b->side) return a->side < b->side;
    if (a->total != b->total) return a->total > b->total;
    return a->ts < b->ts;
}

static MERGED_MAYBE_UNUSED int rank_of(PyObject *entry, Rank *r) {
    if (!PyList_CheckExact(entry) || PyList_GET_SIZE(entry) != E_FIELDS) {
        PyErr_SetString(PyExc_TypeError, "an entry is a list of UsageEvent's fields");
        return -1;
    }
    r->side = PyObject_IsTrue(PyList_GET_ITEM(entry, E_SIDECHAIN));
    if (r->side < 0) return -1;
    r->total = PyLong_AsLongLong(PyList_GET_ITEM(entry, E_TOTAL));
    if (r->total == -1 && PyErr_Occurred()) return -1;
    r->ts = PyLong_AsLongLong(PyList_GET_ITEM(entry, E_TS));
    return r->ts == -1 && PyErr_Occurred() ? -1 : 0;
}

/* Give `into` the speed `from` says if it is greater: every line of a response
 * was served at one speed, and any that says so is kept. */
static MERGED_MAYBE_UNUSED int faster(PyObject *into, PyObject *from_speed) {
    int gt = PyObject_RichCompareBool(from_speed, PyList_GET_ITEM(into, E_SPEED), Py_GT);
    if (gt > 0) {
        Py_INCREF(from_speed);
        PyList_SetItem(into, E_SPEED, from_speed);
    }
    return gt < 0 ? -1 : 0;
}

/* Fold `entry`, of rank `rk`, into merged[key] (the stored entry of a key is
 * replaced only by one that outranks it: a tie keeps the first). */
static MERGED_MAYBE_UNUSED int fold_entry(PyObject *merged, PyObject *key, PyObject *entry, const Rank *rk) {
    PyObject *old = PyDict_GetItemWithError(merged, key);
    if (!old) return PyErr_Occurred() ? -1 : PyDict_SetItem(merged, key, entry);
    Rank ro;
    if (rank_of(old, &ro) < 0) return -1;
    if (!outranks(rk, &ro)) return faster(old, PyList_GET_ITEM(entry, E_SPEED));
    if (faster(entry, PyList_GET_ITEM(old, E_SPEED)) < 0) return -1;
    return PyDict_SetItem(merged, key, entry);
}

static MERGED_MAYBE_UNUSED PyObject *fold(PyObject *self, PyObject *args) {
    PyObject *merged, *entry;
    if (!PyArg_ParseTuple(args, "O!O!", &PyDict_Type, &merged, &PyList_Type, &entry)) return NULL;
    Rank rk;
    if (rank_of(entry, &rk) < 0 || fold_entry(merged, PyList_GET_ITEM(entry, E_KEY), entry, &rk) < 0)
        return NULL;
    Py_RETURN_NONE;
}

#endif
