/*
 * Event rows to and from SQLite in C: packed by a parse worker and stored from
 * the packed bytes through SQLite's own C API (the second half of a cold
 * ingest's hot loop), and read back folded into blocks.
 *
 * A parse worker used to send its rows to the committing process as a list of
 * tuples. Pickling them, unpickling them, and binding them one value at a time
 * through Python's sqlite3 was half of that process's work, and it is the one
 * process every row goes through. So a worker packs its rows (pack), and the
 * committing process binds straight from the packed bytes (Statement.run):
 * no Python object is made per row on the way from parser to SQLite.
 *
 * pack(rows) takes a list of equal-length tuples of None, int (64-bit), float
 * and str; anything else raises TypeError, and the caller keeps the list.
 * unpack(packed) gives the list back (the committing process's way when it
 * cannot bind itself). Statement(handle, sql) prepares sql on the connection
 * whose handle is ``handle``, which only the SQL function tmuxtok_handle()
 * gives: register() makes SQLite add that function to every connection opened
 * after it. Statement.run(packed) binds and steps each row in order, returns
 * (rows, least value of the third column or None), and raises Error(code,
 * message) with SQLite's extended result code when a step fails; the caller
 * turns it into the sqlite3 exception Python's module would have raised.
 *
 * fold_blocks(handle, sql, params, span_ms, synthetic) runs the query blocks
 * are built from (Ledger._fold_query's: Ledger.fold_entries's rows in time
 * order, with their agent and key) on that connection, puts the rows of each
 * time in (agent, key) order, and folds them into blocks as
 * model.blocks.build_sorted_blocks does, with no Python object per row: the
 * other half of what a cold scan spent after its load.
 *
 * priced_rows(entries, rates, wins, fast, threshold) makes a parse worker's
 * rows of its merged entries as batch.merge_rows does, each priced as
 * PriceTable.cost and batch.price_nano do, from each model's rates
 * (PriceTable.rates) and whether each agent's logged cost wins.
 *
 * bucket_sums(handle, sql, params, bucket_ms) sums the rows sql gives (agent,
 * time, project, model, counts, cost, approx: Ledger._bucket_sums's query) per
 * (agent, time / bucket_ms, model) as Ledger._grouped_sql's GROUP BY does, in
 * its order, through a hash instead of SQLite's sort.
 *
 * Both return None where a value met is one the SQL would take otherwise (of
 * another type, text that is not UTF-8, a sum past 64 bits): the caller then
 * runs it in Python, which gives the same answer or raises the same error.
 *
 * SQLite's functions are looked up at run time in the libsqlite3 that Python's
 * sqlite3 module has loaded (RTLD_NOLOAD), so building needs no SQLite headers
 * and the statements run in the very library, and on the very connections, the
 * rest of tmuxtok uses. Where that library cannot be found (a Python with
 * SQLite built in), register() returns False and rows go the Python way.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "../_needles.h"

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
typedef struct sqlite3_context sqlite3_context;
typedef struct sqlite3_value sqlite3_value;

#define SQLITE_OK 0
#define SQLITE_ROW 100
#define SQLITE_DONE 101
#define SQLITE_INTEGER 1
#define SQLITE_FLOAT 2
#define SQLITE_TEXT 3
#define SQLITE_NULL 5
#define SQLITE_TRANSIENT ((void (*)(void *))-1)
#define SQLITE_UTF8 1
#define SQLITE_STATIC ((void (*)(void *))0)

static struct {
    int (*prepare_v2)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
    int (*bind_int64)(sqlite3_stmt *, int, long long);
    int (*bind_double)(sqlite3_stmt *, int, double);
    int (*bind_text)(sqlite3_stmt *, int, const char *, int, void (*)(void *));
    int (*bind_null)(sqlite3_stmt *, int);
    int (*bind_parameter_count)(sqlite3_stmt *);
    int (*step)(sqlite3_stmt *);
    int (*reset)(sqlite3_stmt *);
    int (*finalize)(sqlite3_stmt *);
    int (*extended_errcode)(sqlite3 *);
    const char *(*errmsg)(sqlite3 *);
    int (*auto_extension)(void (*)(void));
    int (*create_function)(sqlite3 *, const char *, int, int, void *,
                           void (*)(sqlite3_context *, int, sqlite3_value **),
                           void (*)(sqlite3_context *, int, sqlite3_value **),
                           void (*)(sqlite3_context *));
    sqlite3 *(*context_db_handle)(sqlite3_context *);
    void (*result_int64)(sqlite3_context *, long long);
    int (*column_type)(sqlite3_stmt *, int);
    long long (*column_int64)(sqlite3_stmt *, int);
    double (*column_double)(sqlite3_stmt *, int);
    const unsigned char *(*column_text)(sqlite3_stmt *, int);
    int (*column_bytes)(sqlite3_stmt *, int);
    long long (*last_insert_rowid)(sqlite3 *);
} api;

static int resolved = 0; /* 1 found, -1 not to be had */

static PyObject *Error; /* _rows.Error(code, message) */

/* ---- packing ------------------------------------------------------------ */

/* One value: a tag byte, then 8 bytes (int64, double, both native order: the
 * bytes never leave the machine) or a 4-byte length and UTF-8 text. */
enum { T_NULL = 'n', T_INT = 'i', T_REAL = 'f', T_TEXT = 's' };

typedef struct {
    uint32_t rows;
    uint32_t cols;
} Header;

static Py_ssize_t value_size(PyObject *v) {
    if (v == Py_None)
        return 1;
    if (PyLong_CheckExact(v) || PyFloat_CheckExact(v))
        return 9;
    if (PyUnicode_CheckExact(v)) {
        Py_ssize_t n;
        if (PyUnicode_AsUTF8AndSize(v, &n) == NULL)
            return -1;
        if (n > INT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "text too long to pack");
            return -1;
        }
        return 5 + n;
    }
    PyErr_Format(PyExc_TypeError, "cannot pack a %.100s", Py_TYPE(v)->tp_name);
    return -1;
}

static char *put_value(char *p, PyObject *v) {
    if (v == Py_None) {
        *p++ = T_NULL;
    } else if (PyLong_CheckExact(v)) {
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow) {
            PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to SQLite INTEGER");
            return NULL;
        }
        *p++ = T_INT;
        memcpy(p, &x, 8);
        p += 8;
    } else if (PyFloat_CheckExact(v)) {
        double x = PyFloat_AS_DOUBLE(v);
        *p++ = T_REAL;
        memcpy(p, &x, 8);
        p += 8;
    } else {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(v, &n); /* cached by value_size */
        uint32_t len = (uint32_t)n;
        *p++ = T_TEXT;
        memcpy(p, &len, 4);
        memcpy(p + 4, s, (size_t)n);
        p += 4 + n;
    }
    return p;
}

static PyObject *pack(PyObject *self, PyObject *rows) {
    if (!PyList_CheckExact(rows))
        return PyErr_Format(PyExc_TypeError, "rows must be a list, not %.100s", Py_TYPE(rows)->tp_name);
    Py_ssize_t nrows = PyList_GET_SIZE(rows), cols = -1, size = sizeof(Header);
    if (nrows > UINT32_MAX)
        return PyErr_Format(PyExc_OverflowError, "too many rows to pack");
    for (Py_ssize_t i = 0; i < nrows; i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        if (!PyTuple_CheckExact(row))
            return PyErr_Format(PyExc_TypeError, "a row must be a tuple, not %.100s", Py_TYPE(row)->tp_name);
        if (cols < 0)
            cols = PyTuple_GET_SIZE(row);
        else if (PyTuple_GET_SIZE(row) != cols)
            return PyErr_Format(PyExc_ValueError, "rows of %zd and %zd values", cols, PyTuple_GET_SIZE(row));
        for (Py_ssize_t j = 0; j < cols; j++) {
            Py_ssize_t n = value_size(PyTuple_GET_ITEM(row, j));
            if (n < 0)
                return NULL;
            size += n;
        }
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, size);
    if (out == NULL)
        return NULL;
    char *p = PyBytes_AS_STRING(out);
    Header h = {(uint32_t)nrows, (uint32_t)(cols < 0 ? 0 : cols)};
    memcpy(p, &h, sizeof h);
    p += sizeof h;
    for (Py_ssize_t i = 0; i < nrows; i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        for (Py_ssize_t j = 0; j < cols; j++) {
            p = put_value(p, PyTuple_GET_ITEM(row, j));
            if (p == NULL) {
                Py_DECREF(out);
                return NULL;
            }
        }
    }
    return out;
}

/* A packed buffer's values, checked as they are walked: a buffer this module
 * did not write gives ValueError, never a read out of bounds. */
typedef struct {
    const char *p;
    const char *end;
} Walk;

/* One packed value, as take() reads it. */
typedef struct {
    char tag;
    long long i;
    double f;
    const char *s;
    int n;
} Value;

static int take(Walk *w, Value *v) {
    if (w->p >= w->end)
        return -1;
    v->tag = *w->p++;
    switch (v->tag) {
    case T_NULL:
        return 0;
    case T_INT:
    case T_REAL:
        if (w->end - w->p < 8)
            return -1;
        if (v->tag == T_INT)
            memcpy(&v->i, w->p, 8);
        else
            memcpy(&v->f, w->p, 8);
        w->p += 8;
        return 0;
    case T_TEXT: {
        uint32_t len;
        if (w->end - w->p < 4)
            return -1;
        memcpy(&len, w->p, 4);
        if ((uint64_t)(w->end - w->p - 4) < len || len > INT32_MAX)
            return -1;
        v->s = w->p + 4;
        v->n = (int)len;
        w->p += 4 + len;
        return 0;
    }
    }
    return -1;
}

/* Whether the buffer holds exactly its header's rows of values. */
static int whole(Walk w, const Header *h) {
    Value v;
    for (uint64_t k = (uint64_t)h->rows * h->cols; k > 0; k--)
        if (take(&w, &v) < 0)
            return 0;
    return w.p == w.end;
}

static int open_walk(PyObject *packed, Walk *w, Header *h) {
    if (!PyBytes_Check(packed)) {
        PyErr_Format(PyExc_TypeError, "packed rows must be bytes, not %.100s", Py_TYPE(packed)->tp_name);
        return -1;
    }
    const char *p = PyBytes_AS_STRING(packed);
    Py_ssize_t n = PyBytes_GET_SIZE(packed);
    if (n < (Py_ssize_t)sizeof *h) {
        PyErr_SetString(PyExc_ValueError, "not packed rows");
        return -1;
    }
    memcpy(h, p, sizeof *h);
    w->p = p + sizeof *h;
    w->end = p + n;
    return 0;
}

static PyObject *unpack(PyObject *self, PyObject *packed) {
    Walk w;
    Header h;
    if (open_walk(packed, &w, &h) < 0)
        return NULL;
    if (!whole(w, &h))
        return PyErr_Format(PyExc_ValueError, "packed rows end early or are damaged");
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    for (uint32_t r = 0; r < h.rows; r++) {
        PyObject *row = PyTuple_New(h.cols);
        if (row == NULL || PyList_Append(out, row) < 0) {
            Py_XDECREF(row);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(row);
        for (uint32_t c = 0; c < h.cols; c++) {
            Value v;
            PyObject *o;
            (void)take(&w, &v); /* whole() walked it already */
            if (v.tag == T_NULL)
                o = Py_NewRef(Py_None);
            else if (v.tag == T_INT)
                o = PyLong_FromLongLong(v.i);
            else if (v.tag == T_REAL)
                o = PyFloat_FromDouble(v.f);
            else
                o = PyUnicode_DecodeUTF8(v.s, v.n, NULL);
            if (o == NULL) {
                Py_DECREF(out);
                return NULL;
            }
            PyTuple_SET_ITEM(row, c, o);
        }
    }
    return out;
}

/* ---- SQLite ------------------------------------------------------------- */

static void handle_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    (void)argv;
    api.result_int64(ctx, (long long)(intptr_t)api.context_db_handle(ctx));
}

static int add_handle_fn(sqlite3 *db, char **err, const void *routines) {
    (void)err;
    (void)routines;
    api.create_function(db, "tmuxtok_handle", 0, SQLITE_UTF8, NULL, handle_fn, NULL, NULL);
    return SQLITE_OK;
}

static int resolve(void) {
    if (resolved)
        return resolved;
    resolved = -1;
    void *lib = dlopen("libsqlite3.so.0", RTLD_NOW | RTLD_NOLOAD);
    if (lib == NULL)
        return resolved;
#define FIND(field, name)                                                                          \
    if ((*(void **)&api.field = dlsym(lib, name)) == NULL)                                         \
        return resolved;
    FIND(prepare_v2, "sqlite3_prepare_v2")
    FIND(bind_int64, "sqlite3_bind_int64")
    FIND(bind_double, "sqlite3_bind_double")
    FIND(bind_text, "sqlite3_bind_text")
    FIND(bind_null, "sqlite3_bind_null")
    FIND(bind_parameter_count, "sqlite3_bind_parameter_count")
    FIND(step, "sqlite3_step")
    FIND(reset, "sqlite3_reset")
    FIND(finalize, "sqlite3_finalize")
    FIND(extended_errcode, "sqlite3_extended_errcode")
    FIND(errmsg, "sqlite3_errmsg")
    FIND(auto_extension, "sqlite3_auto_extension")
    FIND(create_function, "sqlite3_create_function")
    FIND(context_db_handle, "sqlite3_context_db_handle")
    FIND(result_int64, "sqlite3_result_int64")
    FIND(column_type, "sqlite3_column_type")
    FIND(column_int64, "sqlite3_column_int64")
    FIND(column_double, "sqlite3_column_double")
    FIND(column_text, "sqlite3_column_text")
    FIND(column_bytes, "sqlite3_column_bytes")
    FIND(last_insert_rowid, "sqlite3_last_insert_rowid")
#undef FIND
    if (api.auto_extension((void (*)(void))add_handle_fn) != SQLITE_OK)
        return resolved;
    resolved = 1;
    return resolved;
}

static PyObject *register_(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return PyBool_FromLong(resolve() > 0);
}

typedef struct {
    PyObject_HEAD sqlite3 *db;
    sqlite3_stmt *stmt;
    int params;
} Statement;

static PyObject *raise_sqlite(sqlite3 *db, int rc) {
    int code = db ? api.extended_errcode(db) : rc;
    const char *msg = db ? api.errmsg(db) : "SQLite error";
    PyObject *args = Py_BuildValue("(is)", code, msg);
    if (args != NULL) {
        PyErr_SetObject(Error, args);
        Py_DECREF(args);
    }
    return NULL;
}

static int Statement_init(Statement *self, PyObject *args, PyObject *kw) {
    long long handle;
    const char *sql;
    Py_ssize_t n;
    static char *names[] = {"handle", "sql", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Ls#", names, &handle, &sql, &n))
        return -1;
    if (resolve() < 0) {
        PyErr_SetString(PyExc_RuntimeError, "SQLite's library is not to be had");
        return -1;
    }
    if (handle == 0 || n > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "not a connection handle, or SQL too long");
        return -1;
    }
    if (self->stmt != NULL) {
        api.finalize(self->stmt);
        self->stmt = NULL;
    }
    self->db = (sqlite3 *)(intptr_t)handle;
    int rc = api.prepare_v2(self->db, sql, (int)n, &self->stmt, NULL);
    if (rc != SQLITE_OK || self->stmt == NULL) {
        raise_sqlite(self->db, rc);
        self->stmt = NULL;
        return -1;
    }
    self->params = api.bind_parameter_count(self->stmt);
    return 0;
}

static int bind(sqlite3_stmt *st, int i, const Value *v) {
    if (v->tag == T_NULL)
        return api.bind_null(st, i);
    if (v->tag == T_INT)
        return api.bind_int64(st, i, v->i);
    if (v->tag == T_REAL)
        return api.bind_double(st, i, v->f);
    return api.bind_text(st, i, v->s, v->n, SQLITE_STATIC);
}

static PyObject *Statement_run(Statement *self, PyObject *packed) {
    Walk w;
    Header h;
    if (self->stmt == NULL) {
        PyErr_SetString(PyExc_ValueError, "the statement is closed");
        return NULL;
    }
    if (open_walk(packed, &w, &h) < 0)
        return NULL;
    if (h.rows && (int)h.cols != self->params)
        return PyErr_Format(PyExc_ValueError, "rows of %u values for a statement of %d parameters",
                            h.cols, self->params);
    if (!whole(w, &h)) /* walked first: a damaged buffer stores nothing */
        return PyErr_Format(PyExc_ValueError, "packed rows end early or are damaged");
    int rc = SQLITE_DONE, have_least = 0;
    long long least = 0;
    Py_BEGIN_ALLOW_THREADS;
    for (uint32_t r = 0; r < h.rows && rc == SQLITE_DONE; r++) {
        for (uint32_t c = 0; c < h.cols; c++) {
            Value v;
            (void)take(&w, &v); /* whole() walked it already */
            if (v.tag == T_INT && c == 2 && (!have_least || v.i < least)) {
                least = v.i;
                have_least = 1;
            }
            int b = bind(self->stmt, (int)c + 1, &v);
            if (b != SQLITE_OK) {
                rc = b;
                break;
            }
        }
        if (rc != SQLITE_DONE)
            break;
        rc = api.step(self->stmt);
        if (rc == SQLITE_DONE)
            api.reset(self->stmt);
    }
    Py_END_ALLOW_THREADS;
    if (rc != SQLITE_DONE) {
        raise_sqlite(self->db, rc);
        api.reset(self->stmt);
        return NULL;
    }
    api.reset(self->stmt);
    if (!have_least)
        return Py_BuildValue("(IO)", h.rows, Py_None);
    return Py_BuildValue("(IL)", h.rows, least);
}

static PyObject *Statement_close(Statement *self, PyObject *unused) {
    (void)unused;
    if (self->stmt != NULL) {
        api.finalize(self->stmt);
        self->stmt = NULL;
    }
    Py_RETURN_NONE;
}

static void Statement_dealloc(Statement *self) {
    if (self->stmt != NULL)
        api.finalize(self->stmt);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Statement_methods[] = {
    {"run", (PyCFunction)Statement_run, METH_O,
     "run(packed) -> (rows, least third value or None): bind and step each row."},
    {"close", (PyCFunction)Statement_close, METH_NOARGS, "Finalize the statement."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject StatementType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tmuxtok.ingest._rows.Statement",
    .tp_basicsize = sizeof(Statement),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Statement(handle, sql): sql prepared on the connection tmuxtok_handle() named.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Statement_init,
    .tp_dealloc = (destructor)Statement_dealloc,
    .tp_methods = Statement_methods,
};

/* ---- keys of a load into an empty ledger ---------------------------------- */

/* Into a ledger with no events yet, a cold ingest loads without the unique
 * index on (agent, key) and builds it once at the end (ingest.keyed): with it,
 * every row inserted cost a descent into that index at a random place, the
 * largest single cost of the load (at 4 GiB of logs, 1.46 s of the committing
 * process's 2 s). The index's one job meanwhile, finding the row a key
 * already has, is done here: a hash table from each stored key's 64-bit hash
 * to its row id. A hash found is confirmed against the stored row (the check
 * statement), so two keys with one hash only cost a lookup. A new key's row
 * goes in through the insert; a key already stored goes through the update
 * (the upsert's DO UPDATE, by id), so the ledger ends as the upserts would
 * leave it, ids and all. */

typedef struct {
    uint64_t hash; /* 0: empty */
    long long id;
} Slot;

typedef struct {
    PyObject_HEAD Slot *slots;
    size_t cap, used; /* cap: a power of two */
} Keys;

/* The hashes of this module's tables: FNV-1a over bytes, from FNV_START or
 * where it stopped, and a finalizer, so that the low bits (the slot) vary. */
#define FNV_START 0xcbf29ce484222325ULL

static uint64_t fnv1a(uint64_t h, const char *s, int n) {
    for (int i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb34fe63a53b9ULL;
    return h ^ (h >> 33);
}

static uint64_t key_hash(const Value *agent, const Value *key) {
    uint64_t h = fnv1a(FNV_START, agent->s, agent->n);
    h = fnv1a(h, "\xff", 1); /* no UTF-8 byte: agent "ab" + key "c" is not "a" + "bc" */
    h = mix(fnv1a(h, key->s, key->n));
    return h ? h : 1;
}

static int keys_grow(Keys *k) {
    size_t cap = k->cap ? k->cap * 2 : 1 << 16;
    Slot *slots = calloc(cap, sizeof(Slot));
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < k->cap; i++) {
        if (k->slots[i].hash == 0)
            continue;
        size_t j = k->slots[i].hash & (cap - 1);
        while (slots[j].hash != 0)
            j = (j + 1) & (cap - 1);
        slots[j] = k->slots[i];
    }
    free(k->slots);
    k->slots = slots;
    k->cap = cap;
    return 0;
}

/* Whether the row ``id`` has this agent and key: SQLITE_ROW yes, SQLITE_DONE no. */
static int same_key(sqlite3_stmt *check, long long id, const Value *agent, const Value *key) {
    int rc = api.bind_int64(check, 1, id);
    if (rc == SQLITE_OK)
        rc = bind(check, 2, agent);
    if (rc == SQLITE_OK)
        rc = bind(check, 3, key);
    if (rc == SQLITE_OK)
        rc = api.step(check);
    api.reset(check);
    return rc;
}

static int open_statement(PyObject *o, int params, sqlite3_stmt **st, sqlite3 **db) {
    if (!PyObject_TypeCheck(o, &StatementType) || ((Statement *)o)->stmt == NULL) {
        PyErr_SetString(PyExc_TypeError, "an open Statement was expected");
        return -1;
    }
    if (((Statement *)o)->params != params) {
        PyErr_Format(PyExc_ValueError, "a statement of %d parameters was expected", params);
        return -1;
    }
    *st = ((Statement *)o)->stmt;
    if (*db != NULL && *db != ((Statement *)o)->db) {
        PyErr_SetString(PyExc_ValueError, "the statements are of different connections");
        return -1;
    }
    *db = ((Statement *)o)->db;
    return 0;
}

#define MAX_COLS 64

static PyObject *Keys_run(Keys *self, PyObject *args) {
    PyObject *packed, *ins, *upd, *chk;
    if (!PyArg_ParseTuple(args, "OOOO", &packed, &ins, &upd, &chk))
        return NULL;
    Walk w;
    Header h;
    if (open_walk(packed, &w, &h) < 0)
        return NULL;
    if (!whole(w, &h)) /* walked first: a damaged buffer stores nothing */
        return PyErr_Format(PyExc_ValueError, "packed rows end early or are damaged");
    if (h.rows == 0)
        return Py_BuildValue("(IO)", 0, Py_None);
    sqlite3 *db = NULL;
    sqlite3_stmt *insert, *update, *check;
    if (h.cols < 3 || h.cols > MAX_COLS || open_statement(ins, (int)h.cols, &insert, &db) < 0 ||
        open_statement(upd, (int)h.cols + 1, &update, &db) < 0 ||
        open_statement(chk, 3, &check, &db) < 0) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_ValueError, "rows of %u values cannot be keyed", h.cols);
        return NULL;
    }
    int rc = SQLITE_DONE, have_least = 0, bad = 0, nomem = 0;
    long long least = 0;
    Value v[MAX_COLS];
    Py_BEGIN_ALLOW_THREADS;
    for (uint32_t r = 0; r < h.rows && rc == SQLITE_DONE; r++) {
        for (uint32_t c = 0; c < h.cols; c++)
            (void)take(&w, &v[c]); /* whole() walked it already */
        if (v[0].tag != T_TEXT || v[1].tag != T_TEXT) {
            bad = 1;
            break;
        }
        if (v[2].tag == T_INT && (!have_least || v[2].i < least)) {
            least = v[2].i;
            have_least = 1;
        }
        if ((self->used + 1) * 10 > self->cap * 7 && keys_grow(self) < 0) {
            nomem = 1;
            break;
        }
        uint64_t hash = key_hash(&v[0], &v[1]);
        size_t mask = self->cap - 1, j = hash & mask;
        long long id = 0;
        for (; self->slots[j].hash != 0; j = (j + 1) & mask) {
            if (self->slots[j].hash != hash)
                continue;
            rc = same_key(check, self->slots[j].id, &v[0], &v[1]);
            if (rc == SQLITE_ROW) {
                id = self->slots[j].id;
                rc = SQLITE_DONE;
                break;
            }
            if (rc != SQLITE_DONE)
                break;
        }
        if (rc != SQLITE_DONE)
            break;
        sqlite3_stmt *st = id ? update : insert;
        for (uint32_t c = 0; c < h.cols && rc == SQLITE_DONE; c++) {
            int b = bind(st, (int)c + 1, &v[c]);
            if (b != SQLITE_OK)
                rc = b;
        }
        if (rc == SQLITE_DONE && id) {
            int b = api.bind_int64(st, (int)h.cols + 1, id);
            if (b != SQLITE_OK)
                rc = b;
        }
        if (rc != SQLITE_DONE)
            break;
        rc = api.step(st);
        api.reset(st);
        if (rc == SQLITE_DONE && !id) {
            self->slots[j].hash = hash; /* j: the empty slot the probe ended at */
            self->slots[j].id = api.last_insert_rowid(db);
            self->used++;
        }
    }
    Py_END_ALLOW_THREADS;
    if (nomem)
        return PyErr_NoMemory();
    if (bad)
        return PyErr_Format(PyExc_ValueError, "a row's agent and key must be text");
    if (rc != SQLITE_DONE)
        return raise_sqlite(db, rc);
    if (!have_least)
        return Py_BuildValue("(IO)", h.rows, Py_None);
    return Py_BuildValue("(IL)", h.rows, least);
}

static PyObject *Keys_len_(Keys *self, PyObject *unused) {
    (void)unused;
    return PyLong_FromSize_t(self->used);
}

static void Keys_dealloc(Keys *self) {
    free(self->slots);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Keys_methods[] = {
    {"run", (PyCFunction)Keys_run, METH_VARARGS,
     "run(packed, insert, update, check) -> (rows, least third value or None): each row "
     "inserted, or updated by id if its key is stored."},
    {"count", (PyCFunction)Keys_len_, METH_NOARGS, "count() -> keys held."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject KeysType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tmuxtok.ingest._rows.Keys",
    .tp_basicsize = sizeof(Keys),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Keys(): the stored keys of a load without its unique index, by hash.",
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)Keys_dealloc,
    .tp_methods = Keys_methods,
};


/* ---- blocks ------------------------------------------------------------- */

/* model.blocks.build_sorted_blocks over Ledger.fold_entries's rows, stepped
 * here instead of through a Python tuple per row. The sums are those of
 * blocks._block, in the same order (a float cost adds up bit for bit as there,
 * and as in ccusage's JS); Python makes the Block records from what this gives
 * (blocks.from_folded). Any value that the Python fold would take otherwise (a
 * time or count not a 64-bit integer that doubles hold exactly, a sum past 64
 * bits, text that is not UTF-8) makes this give None, and the caller folds in
 * Python: the two ways never differ, they only differ in speed. */

#define HOUR_MS 3600000LL
#define EXACT (1LL << 52)

typedef struct {
    char *name;
    int len;
    long long s[7]; /* input, output, cache write, cache read, total, unpriced, entries */
    double cost;
    int priced;
} ModelSum;

typedef struct {
    long long start, first, last;
    long long s[8]; /* entries, input, output, cache write, cache read, total, unpriced, approx */
    double cost;
    ModelSum *models;
    int nmodels, cap;
} BlockSum;

static void block_clear(BlockSum *b) {
    for (int i = 0; i < b->nmodels; i++)
        free(b->models[i].name);
    b->nmodels = 0;
    memset(b->s, 0, sizeof b->s);
    b->cost = 0.0;
}

static int add_to(long long *acc, long long v) { return __builtin_add_overflow(*acc, v, acc); }

/* Room for one more item in an array that doubles as it fills (from `first`
 * items): 0, or -1 out of memory with the array as it was. */
static int room(void **items, int used, int *cap, size_t size, int first) {
    if (used < *cap)
        return 0;
    if (*cap > INT_MAX / 2)
        return -1;
    int c = *cap ? *cap * 2 : first;
    void *grown = realloc(*items, size * (size_t)c);
    if (grown == NULL)
        return -1;
    *items = grown;
    *cap = c;
    return 0;
}

/* The block as (start, first, last, entries, input, output, cache write, cache
 * read, total, cost, unpriced, approx, ((model, input, output, cache write,
 * cache read, total, unpriced, entries, cost, priced), ...)). NULL with an
 * error set, or NULL with none for text that is not UTF-8. */
static PyObject *block_tuple(BlockSum *b) {
    PyObject *models = PyTuple_New(b->nmodels);
    if (models == NULL)
        return NULL;
    for (int i = 0; i < b->nmodels; i++) {
        ModelSum *m = &b->models[i];
        PyObject *name = PyUnicode_DecodeUTF8(m->name, m->len, NULL);
        if (name == NULL) {
            Py_DECREF(models);
            if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
                PyErr_Clear();
            return NULL;
        }
        PyObject *t = Py_BuildValue("(NLLLLLLLdO)", name, m->s[0], m->s[1], m->s[2], m->s[3],
                                    m->s[4], m->s[5], m->s[6], m->cost,
                                    m->priced ? Py_True : Py_False);
        if (t == NULL) {
            Py_DECREF(models);
            return NULL;
        }
        PyTuple_SET_ITEM(models, i, t);
    }
    return Py_BuildValue("(LLLLLLLLLdLLN)", b->start, b->first, b->last, b->s[0], b->s[1], b->s[2],
                         b->s[3], b->s[4], b->s[5], b->cost, b->s[6], b->s[7], models);
}

/* One row into the block; 1 when a sum would pass 64 bits, -1 out of memory. */
static int block_add(BlockSum *b, const char *model, int len, long long in, long long out,
                     long long create, long long read, long long total, int has_cost, double cost,
                     long long approx, const char *synthetic, int synthetic_len) {
    if (approx)
        b->s[7]++;
    b->s[0]++;
    if (add_to(&b->s[1], in) || add_to(&b->s[2], out) || add_to(&b->s[3], create) ||
        add_to(&b->s[4], read) || add_to(&b->s[5], total))
        return 1;
    if (!has_cost) {
        if (add_to(&b->s[6], total))
            return 1;
    } else
        b->cost += cost;
    if (len == synthetic_len && memcmp(model, synthetic, (size_t)len) == 0)
        return 0;
    ModelSum *m = NULL;
    for (int i = 0; i < b->nmodels; i++)
        if (b->models[i].len == len && memcmp(b->models[i].name, model, (size_t)len) == 0) {
            m = &b->models[i];
            break;
        }
    if (m == NULL) {
        if (room((void **)&b->models, b->nmodels, &b->cap, sizeof *b->models, 8) < 0)
            return -1;
        m = &b->models[b->nmodels];
        memset(m, 0, sizeof *m);
        m->name = malloc((size_t)len + 1);
        if (m->name == NULL)
            return -1;
        memcpy(m->name, model, (size_t)len);
        m->len = len;
        b->nmodels++;
    }
    if (add_to(&m->s[0], in) || add_to(&m->s[1], out) || add_to(&m->s[2], create) ||
        add_to(&m->s[3], read) || add_to(&m->s[4], total))
        return 1;
    m->s[6]++;
    if (!has_cost) {
        if (add_to(&m->s[5], total))
            return 1;
    } else {
        m->cost += cost;
        m->priced = 1;
    }
    return 0;
}

static int int_col(sqlite3_stmt *st, int i, long long *v) {
    if (api.column_type(st, i) != SQLITE_INTEGER)
        return -1;
    *v = api.column_int64(st, i);
    return 0;
}

static int bind_args(sqlite3_stmt *st, PyObject *params) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(params); i++) {
        PyObject *v = PyTuple_GET_ITEM(params, i);
        int rc;
        if (PyLong_CheckExact(v)) {
            long long x = PyLong_AsLongLong(v);
            if (x == -1 && PyErr_Occurred())
                return -1;
            rc = api.bind_int64(st, (int)i + 1, x);
        } else if (PyUnicode_CheckExact(v)) {
            Py_ssize_t n;
            const char *t = PyUnicode_AsUTF8AndSize(v, &n);
            if (t == NULL)
                return -1;
            rc = api.bind_text(st, (int)i + 1, t, (int)n, SQLITE_TRANSIENT);
        } else {
            PyErr_Format(PyExc_TypeError, "cannot bind a %.100s", Py_TYPE(v)->tp_name);
            return -1;
        }
        if (rc != SQLITE_OK) {
            PyErr_Format(PyExc_ValueError, "cannot bind parameter %zd", i + 1);
            return -1;
        }
    }
    return 0;
}

/* sql prepared on db (a handle tmuxtok_handle() gave); NULL with an error set. */
static sqlite3_stmt *prepared(sqlite3 *db, const char *sql, Py_ssize_t sql_len) {
    if (resolve() < 0) {
        PyErr_SetString(PyExc_RuntimeError, "SQLite's library is not to be had");
        return NULL;
    }
    if (db == NULL || sql_len > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "not a connection handle, or SQL too long");
        return NULL;
    }
    sqlite3_stmt *st = NULL;
    int rc = api.prepare_v2(db, sql, (int)sql_len, &st, NULL);
    if (rc != SQLITE_OK || st == NULL) {
        raise_sqlite(db, rc);
        return NULL;
    }
    return st;
}

/* A row of the fold, its texts copied (a step frees the column's). */
typedef struct {
    long long ts, in, o, create, read, total, approx;
    int has_cost;
    double cost;
    char *text; /* model, then agent, then key */
    int model_len, agent_len, key_len, text_cap;
} FoldRow;

/* The state one row is folded into: the open block, and the list made so far. */
typedef struct {
    BlockSum b;
    int have;
    double span;
    const char *synthetic;
    int synthetic_len;
    PyObject *out;
} Fold;

/* SQLite's BINARY collation: memcmp, then the shorter first. */
static int binary_cmp(const char *a, int an, const char *b, int bn) {
    int c = memcmp(a, b, (size_t)(an < bn ? an : bn));
    return c ? c : (an > bn) - (an < bn);
}

/* Rows of one time in ORDER BY ts_ms, agent, key's order. */
static int tie_cmp(const void *x, const void *y) {
    const FoldRow *a = x, *b = y;
    int c = binary_cmp(a->text + a->model_len, a->agent_len, b->text + b->model_len, b->agent_len);
    if (c != 0)
        return c;
    return binary_cmp(a->text + a->model_len + a->agent_len, a->key_len,
                      b->text + b->model_len + b->agent_len, b->key_len);
}

/* One row into the fold (rows come in time order): 0, 1 for a value Python
 * takes otherwise, -1 with an error set. */
static int fold_row(Fold *f, const FoldRow *r) {
    BlockSum *b = &f->b;
    if (f->have) {
        long long since_last = r->ts - b->last;
        if ((double)(r->ts - b->start) <= f->span && (double)since_last <= f->span) {
            int rc = block_add(b, r->text, r->model_len, r->in, r->o, r->create, r->read,
                               r->total, r->has_cost, r->cost, r->approx, f->synthetic,
                               f->synthetic_len);
            if (rc < 0)
                PyErr_NoMemory();
            b->last = r->ts;
            return rc;
        }
        PyObject *t = block_tuple(b);
        if (t == NULL || PyList_Append(f->out, t) < 0) {
            Py_XDECREF(t);
            return PyErr_Occurred() ? -1 : 1;
        }
        Py_DECREF(t);
        if ((double)since_last > f->span) {
            t = Py_BuildValue("(LL)", (long long)((double)b->last + f->span), r->ts);
            if (t == NULL || PyList_Append(f->out, t) < 0) {
                Py_XDECREF(t);
                return -1;
            }
            Py_DECREF(t);
        }
    }
    block_clear(b);
    long long mod = r->ts % HOUR_MS;
    if (mod < 0)
        mod += HOUR_MS; /* Python's floor modulo */
    b->start = r->ts - mod;
    b->first = b->last = r->ts;
    f->have = 1;
    int rc = block_add(b, r->text, r->model_len, r->in, r->o, r->create, r->read, r->total,
                       r->has_cost, r->cost, r->approx, f->synthetic, f->synthetic_len);
    if (rc < 0)
        PyErr_NoMemory();
    return rc;
}

/* The current row of st into r: 0, 1 for a value Python takes otherwise, -1
 * out of memory. */
static int fold_take(sqlite3_stmt *st, FoldRow *r) {
    int ctype = api.column_type(st, 6), ttype = api.column_type(st, 7);
    if (int_col(st, 0, &r->ts) || int_col(st, 2, &r->in) || int_col(st, 3, &r->o) ||
        int_col(st, 4, &r->create) || int_col(st, 5, &r->read) || int_col(st, 8, &r->approx) ||
        api.column_type(st, 1) != SQLITE_TEXT || api.column_type(st, 9) != SQLITE_TEXT ||
        api.column_type(st, 10) != SQLITE_TEXT || r->ts > EXACT || r->ts < -EXACT ||
        (ctype != SQLITE_FLOAT && ctype != SQLITE_NULL) ||
        (ttype != SQLITE_INTEGER && ttype != SQLITE_NULL))
        return 1;
    r->has_cost = ctype == SQLITE_FLOAT;
    r->cost = r->has_cost ? api.column_double(st, 6) : 0.0;
    if (ttype == SQLITE_INTEGER)
        r->total = api.column_int64(st, 7);
    else if (__builtin_add_overflow(r->in, r->o, &r->total) || add_to(&r->total, r->create) ||
             add_to(&r->total, r->read))
        return 1;
    const char *texts[3];
    int lens[3];
    for (int i = 0; i < 3; i++) {
        texts[i] = (const char *)api.column_text(st, i == 0 ? 1 : 8 + i);
        lens[i] = api.column_bytes(st, i == 0 ? 1 : 8 + i);
        if (texts[i] == NULL)
            return 1;
    }
    if (lens[0] > INT_MAX / 4 || lens[1] > INT_MAX / 4 || lens[2] > INT_MAX / 4)
        return 1;
    int need = lens[0] + lens[1] + lens[2];
    if (need > r->text_cap) {
        char *grown = realloc(r->text, (size_t)need + 64);
        if (grown == NULL)
            return -1;
        r->text = grown;
        r->text_cap = need + 64;
    }
    memcpy(r->text, texts[0], (size_t)lens[0]);
    memcpy(r->text + lens[0], texts[1], (size_t)lens[1]);
    memcpy(r->text + lens[0] + lens[1], texts[2], (size_t)lens[2]);
    r->model_len = lens[0];
    r->agent_len = lens[1];
    r->key_len = lens[2];
    return 0;
}

/* The rows of one time, put in (agent, key) order and folded: 0, 1, or -1 as
 * fold_row. */
static int fold_ties(Fold *f, FoldRow *rows, int n) {
    if (n > 1)
        qsort(rows, (size_t)n, sizeof *rows, tie_cmp);
    for (int i = 0; i < n; i++) {
        int rc = fold_row(f, &rows[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The query (Ledger._fold_query's) gives rows in time order only: SQLite's
 * ORDER BY on the key after the time would sort every row in a temporary
 * b-tree, over a third of the fold's time, for the few rows that share a time.
 * Those are put in order here, a time's rows at a time. */
static PyObject *fold_blocks(PyObject *self, PyObject *args) {
    long long handle;
    const char *sql, *synthetic;
    Py_ssize_t sql_len, synthetic_len;
    PyObject *params;
    double span;
    (void)self;
    if (!PyArg_ParseTuple(args, "Ls#O!ds#", &handle, &sql, &sql_len, &PyTuple_Type, &params, &span,
                          &synthetic, &synthetic_len))
        return NULL;
    if (synthetic_len > INT32_MAX)
        return PyErr_Format(PyExc_ValueError, "text too long");
    sqlite3 *db = (sqlite3 *)(intptr_t)handle;
    sqlite3_stmt *st = prepared(db, sql, sql_len);
    if (st == NULL)
        return NULL;
    int rc = SQLITE_DONE, r = 0;
    Fold f = {.span = span, .synthetic = synthetic, .synthetic_len = (int)synthetic_len};
    FoldRow *rows = NULL; /* those of the time being folded */
    int n = 0, cap = 0;
    f.out = PyList_New(0);
    if (f.out == NULL || bind_args(st, params) < 0)
        goto failed;
    while ((rc = api.step(st)) == SQLITE_ROW) {
        long long ts = api.column_int64(st, 0);
        if (n > 0 && ts != rows[0].ts) {
            if ((r = fold_ties(&f, rows, n)) != 0)
                break;
            n = 0; /* the slots keep their text buffers for the next time's rows */
        }
        if (n == cap) {
            int was = cap;
            if (room((void **)&rows, n, &cap, sizeof *rows, 4) < 0) {
                r = -1;
                PyErr_NoMemory();
                break;
            }
            memset(rows + was, 0, sizeof *rows * (size_t)(cap - was));
        }
        if ((r = fold_take(st, &rows[n])) != 0) {
            if (r < 0)
                PyErr_NoMemory();
            break;
        }
        n++;
    }
    if (r == 0 && !PyErr_Occurred() && (rc == SQLITE_ROW || rc == SQLITE_DONE) && n > 0)
        r = fold_ties(&f, rows, n);
    if (PyErr_Occurred())
        goto failed;
    if (r == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE) {
        raise_sqlite(db, rc);
        goto failed;
    }
    if (r == 0 && f.have) {
        PyObject *t = block_tuple(&f.b);
        if (t == NULL && PyErr_Occurred())
            goto failed;
        if (t == NULL || PyList_Append(f.out, t) < 0) {
            Py_XDECREF(t);
            if (PyErr_Occurred())
                goto failed;
            r = 1;
        } else
            Py_DECREF(t);
    }
    block_clear(&f.b);
    free(f.b.models);
    for (int i = 0; i < cap; i++)
        free(rows[i].text);
    free(rows);
    api.finalize(st);
    if (r != 0) {
        Py_DECREF(f.out);
        Py_RETURN_NONE;
    }
    return f.out;
failed:
    block_clear(&f.b);
    free(f.b.models);
    for (int i = 0; i < cap; i++)
        free(rows[i].text);
    free(rows);
    api.finalize(st);
    Py_XDECREF(f.out);
    return NULL;
}

/* ---- priced rows --------------------------------------------------------- */

#define ENTRY_LEN 17 /* model.events.entry's fields */
#define ROW_LEN 19   /* batch.EventRow's */

/* batch.to_nano: USD to nano-dollars, rounded half to even as Python's round;
 * 0 for a value out of SQLite's range (None there). Compared with 2**63 as a
 * double, which is what Python's exact float-to-int comparison with
 * 2**63 - 1 comes to. */
static int to_nano(double usd, long long *nano) {
    double x = usd * 1e9;
    if (!(x > -9223372036854775808.0 && x < 9223372036854775808.0))
        return 0; /* NaN too */
    *nano = (long long)nearbyint(x);
    return 1;
}

static int exact_int(PyObject *o, long long *v) {
    if (!PyLong_CheckExact(o))
        return -1;
    int overflow;
    *v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow || (*v == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return -1;
    }
    return 0;
}

/* An entry's cost as batch.price_nano with PriceTable.cost: into *value (a new
 * reference: an int, or None). 1 where a value is one Python takes otherwise. */
static int entry_price(PyObject *const *e, PyObject *rates, PyObject *wins, PyObject *fast,
                       long long threshold, PyObject **value) {
    PyObject *legacy = e[13];
    if (legacy != Py_None && !PyFloat_CheckExact(legacy))
        return 1;
    PyObject *win = PyDict_GetItemWithError(wins, e[0]);
    if (win == NULL)
        return PyErr_Occurred() ? -1 : 1;
    double usd = 0.0;
    int have = 0;
    if (win == Py_True && legacy != Py_None) {
        usd = PyFloat_AS_DOUBLE(legacy);
        have = 1;
    } else {
        PyObject *r = PyDict_GetItemWithError(rates, e[3]);
        if (r == NULL)
            return PyErr_Occurred() ? -1 : 1;
        if (r != Py_None) {
            long long in, out, cc, c1h, cr, w1, w5, prompt;
            if (!PyTuple_CheckExact(r) || PyTuple_GET_SIZE(r) != 11 || exact_int(e[4], &in) ||
                exact_int(e[5], &out) || exact_int(e[6], &cc) || exact_int(e[7], &c1h) ||
                exact_int(e[8], &cr) || !PyUnicode_CheckExact(e[15]))
                return 1;
            double k[11];
            for (int i = 0; i < 11; i++) {
                PyObject *x = PyTuple_GET_ITEM(r, i);
                if (!PyFloat_CheckExact(x))
                    return 1;
                k[i] = PyFloat_AS_DOUBLE(x);
            }
            w1 = c1h > 0 ? c1h : 0;
            if (w1 > cc)
                w1 = cc;
            if (__builtin_sub_overflow(cc, w1, &w5) || __builtin_add_overflow(in, cc, &prompt) ||
                __builtin_add_overflow(prompt, cr, &prompt))
                return 1;
            const double *rate = prompt > threshold ? k + 5 : k;
            usd = (double)in * rate[0] + (double)out * rate[1] + (double)w5 * rate[2] +
                  (double)w1 * rate[3] + (double)cr * rate[4];
            int is_fast = PyObject_RichCompareBool(e[15], fast, Py_EQ);
            if (is_fast < 0)
                return -1;
            if (is_fast)
                usd *= k[10];
            have = 1;
        } else if (legacy != Py_None) {
            usd = PyFloat_AS_DOUBLE(legacy);
            have = 1;
        }
    }
    long long nano;
    if (have && to_nano(usd, &nano))
        *value = PyLong_FromLongLong(nano);
    else
        *value = Py_NewRef(Py_None);
    return *value == NULL ? -1 : 0;
}

/* batch.merge_rows's rows of the merged entries, priced: a list of tuples, or
 * None where an entry holds a value that Python prices otherwise. */
static PyObject *priced_rows(PyObject *self, PyObject *args) {
    PyObject *entries, *rates, *wins, *fast;
    long long threshold;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!O!O!UL", &PyList_Type, &entries, &PyDict_Type, &rates,
                          &PyDict_Type, &wins, &fast, &threshold))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(entries);
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *entry = PyList_GET_ITEM(entries, i);
        if (!PyList_CheckExact(entry) || PyList_GET_SIZE(entry) != ENTRY_LEN)
            goto give_up;
        PyObject *const *e = (PyObject *const *)((PyListObject *)entry)->ob_item;
        PyObject *value;
        int got = entry_price(e, rates, wins, fast, threshold, &value);
        if (got < 0)
            goto failed;
        if (got > 0)
            goto give_up;
        int side = PyObject_IsTrue(e[14]), approx = PyObject_IsTrue(e[16]);
        if (side < 0 || approx < 0) {
            Py_DECREF(value);
            goto failed;
        }
        PyObject *row = PyTuple_New(ROW_LEN);
        if (row == NULL) {
            Py_DECREF(value);
            goto failed;
        }
        for (int j = 0; j < 14; j++) /* agent ... legacy, as they are */
            PyTuple_SET_ITEM(row, j, Py_NewRef(e[j]));
        PyTuple_SET_ITEM(row, 14, value);
        PyTuple_SET_ITEM(row, 15, PyLong_FromLong(1)); /* priced */
        PyTuple_SET_ITEM(row, 16, PyLong_FromLong(side));
        PyTuple_SET_ITEM(row, 17, Py_NewRef(e[15]));
        PyTuple_SET_ITEM(row, 18, PyLong_FromLong(approx));
        PyList_SET_ITEM(out, i, row);
    }
    return out;
give_up:
    Py_DECREF(out);
    Py_RETURN_NONE;
failed:
    Py_DECREF(out);
    return NULL;
}

/* ---- the bucket sums ----------------------------------------------------- */

/* Texts met in a column (agents, models, projects: a handful each), each kept
 * once, so a group holds three small numbers and a row costs a lookup. */
typedef struct {
    char *s;
    int n;
    uint64_t hash;
    int rank; /* place in SQLite's BINARY order, once ranked */
    PyObject *str;
} Text;

typedef struct {
    Text *items;
    int used, cap;
    int32_t *slots; /* index into items + 1; 0 is empty */
    size_t nslots;
} Texts;

/* One (agent, bucket, model): count, input, output, cache write, cache read,
 * total, cost, unpriced total, latest time, approx; and the greatest project. */
typedef struct {
    int32_t agent, model, project;
    long long g;
    long long s[10];
} Group;

typedef struct {
    Group *items;
    int used, cap;
    uint32_t *slots; /* index into items + 1; 0 is empty */
    size_t nslots;
} Groups;

/* The index of s in t, added if new; -1 out of memory. */
static int32_t text_id(Texts *t, const char *s, int n) {
    if ((size_t)(t->used + 1) * 2 > t->nslots) {
        size_t cap = t->nslots ? t->nslots * 2 : 64;
        int32_t *slots = calloc(cap, sizeof *slots);
        if (slots == NULL)
            return -1;
        for (int i = 0; i < t->used; i++) {
            size_t j = t->items[i].hash & (cap - 1);
            while (slots[j])
                j = (j + 1) & (cap - 1);
            slots[j] = i + 1;
        }
        free(t->slots);
        t->slots = slots;
        t->nslots = cap;
    }
    uint64_t h = mix(fnv1a(FNV_START, s, n));
    size_t j = h & (t->nslots - 1);
    for (; t->slots[j]; j = (j + 1) & (t->nslots - 1)) {
        Text *x = &t->items[t->slots[j] - 1];
        if (x->hash == h && x->n == n && memcmp(x->s, s, (size_t)n) == 0)
            return t->slots[j] - 1;
    }
    if (room((void **)&t->items, t->used, &t->cap, sizeof *t->items, 16) < 0)
        return -1;
    Text *x = &t->items[t->used];
    x->s = malloc((size_t)n + 1);
    if (x->s == NULL)
        return -1;
    memcpy(x->s, s, (size_t)n);
    x->n = n;
    x->hash = h;
    x->rank = 0;
    x->str = NULL;
    t->slots[j] = t->used + 1;
    return t->used++;
}

static void texts_free(Texts *t) {
    for (int i = 0; i < t->used; i++) {
        free(t->items[i].s);
        Py_XDECREF(t->items[i].str);
    }
    free(t->items);
    free(t->slots);
}

/* The group of (agent, g, model), added (zeroed) if new; NULL out of memory. */
static Group *group_of(Groups *gs, int32_t agent, long long g, int32_t model) {
    if ((size_t)(gs->used + 1) * 2 > gs->nslots) {
        size_t cap = gs->nslots ? gs->nslots * 2 : 1024;
        uint32_t *slots = calloc(cap, sizeof *slots);
        if (slots == NULL)
            return NULL;
        for (int i = 0; i < gs->used; i++) {
            Group *x = &gs->items[i];
            size_t j = mix((uint64_t)x->g ^ ((uint64_t)x->agent << 48) ^ ((uint64_t)x->model << 32)) &
                       (cap - 1);
            while (slots[j])
                j = (j + 1) & (cap - 1);
            slots[j] = (uint32_t)i + 1;
        }
        free(gs->slots);
        gs->slots = slots;
        gs->nslots = cap;
    }
    size_t j = mix((uint64_t)g ^ ((uint64_t)agent << 48) ^ ((uint64_t)model << 32)) &
               (gs->nslots - 1);
    for (; gs->slots[j]; j = (j + 1) & (gs->nslots - 1)) {
        Group *x = &gs->items[gs->slots[j] - 1];
        if (x->g == g && x->agent == agent && x->model == model)
            return x;
    }
    if (room((void **)&gs->items, gs->used, &gs->cap, sizeof *gs->items, 1024) < 0)
        return NULL;
    Group *x = &gs->items[gs->used];
    memset(x, 0, sizeof *x);
    x->agent = agent;
    x->g = g;
    x->model = model;
    x->project = -1;
    gs->slots[j] = (uint32_t)++gs->used;
    return x;
}

static Texts *ranking; /* the texts rank_cmp compares (qsort has no context) */

static int rank_cmp(const void *a, const void *b) {
    const Text *x = &ranking->items[*(const int32_t *)a], *y = &ranking->items[*(const int32_t *)b];
    return binary_cmp(x->s, x->n, y->s, y->n);
}

/* Each text's place in BINARY order, and its str; -1 with an error set, 1 for
 * text that is not UTF-8 (no error set). */
static int rank_texts(Texts *t) {
    int32_t *order = malloc(sizeof *order * (size_t)(t->used ? t->used : 1));
    if (order == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (int i = 0; i < t->used; i++)
        order[i] = i;
    ranking = t;
    qsort(order, (size_t)t->used, sizeof *order, rank_cmp);
    for (int i = 0; i < t->used; i++)
        t->items[order[i]].rank = i;
    free(order);
    for (int i = 0; i < t->used; i++) {
        t->items[i].str = PyUnicode_DecodeUTF8(t->items[i].s, t->items[i].n, NULL);
        if (t->items[i].str == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
                return -1;
            PyErr_Clear();
            return 1;
        }
    }
    return 0;
}

static Texts *group_texts; /* the texts group_cmp ranks by */

static int group_cmp(const void *a, const void *b) {
    const Group *x = a, *y = b;
    const Text *t = group_texts->items;
    if (x->agent != y->agent)
        return t[x->agent].rank < t[y->agent].rank ? -1 : 1;
    if (x->g != y->g)
        return x->g < y->g ? -1 : 1;
    if (x->model != y->model)
        return t[x->model].rank < t[y->model].rank ? -1 : 1;
    return 0;
}

/* One row into the sums: 0, 1 where the SQL would give something else (a
 * value of another type, a sum past 64 bits), -1 out of memory. */
static int sum_row(sqlite3_stmt *st, long long bucket, Texts *t, Groups *gs, int32_t last[3]) {
    long long ts, v[6], cost = 0;
    static const int cols[6] = {4, 5, 6, 7, 8, 10}; /* input ... total, approx */
    if (int_col(st, 1, &ts) || api.column_type(st, 0) != SQLITE_TEXT ||
        api.column_type(st, 2) != SQLITE_TEXT || api.column_type(st, 3) != SQLITE_TEXT)
        return 1;
    for (int i = 0; i < 6; i++)
        if (int_col(st, cols[i], &v[i]))
            return 1;
    int ctype = api.column_type(st, 9);
    if (ctype == SQLITE_INTEGER)
        cost = api.column_int64(st, 9);
    else if (ctype != SQLITE_NULL)
        return 1;
    int32_t ids[3];
    for (int i = 0; i < 3; i++) { /* agent, project, model */
        const char *s = (const char *)api.column_text(st, i == 0 ? 0 : i + 1);
        int n = api.column_bytes(st, i == 0 ? 0 : i + 1);
        if (s == NULL)
            return n == 0 ? 1 : -1;
        const Text *was = last[i] >= 0 ? &t->items[last[i]] : NULL;
        if (was != NULL && was->n == n && memcmp(was->s, s, (size_t)n) == 0)
            ids[i] = last[i]; /* as in the row before, most often: no hash */
        else if ((ids[i] = last[i] = text_id(t, s, n)) < 0)
            return -1;
    }
    Group *x = group_of(gs, ids[0], ts / bucket, ids[2]);
    if (x == NULL)
        return -1;
    x->s[0]++;
    for (int i = 0; i < 5; i++)
        if (add_to(&x->s[1 + i], v[i]))
            return 1;
    if (ctype == SQLITE_INTEGER ? add_to(&x->s[6], cost) : add_to(&x->s[7], v[4]))
        return 1;
    if (x->s[0] == 1 || ts > x->s[8])
        x->s[8] = ts;
    if (add_to(&x->s[9], v[5]))
        return 1;
    if (x->project != ids[1]) {
        const Text *p = &t->items[ids[1]];
        if (x->project < 0 ||
            binary_cmp(p->s, p->n, t->items[x->project].s, t->items[x->project].n) > 0)
            x->project = ids[1];
    }
    return 0;
}

static PyObject *bucket_sums(PyObject *self, PyObject *args) {
    long long handle, bucket;
    const char *sql;
    Py_ssize_t sql_len;
    PyObject *params;
    (void)self;
    if (!PyArg_ParseTuple(args, "Ls#O!L", &handle, &sql, &sql_len, &PyTuple_Type, &params, &bucket))
        return NULL;
    if (bucket <= 0)
        return PyErr_Format(PyExc_ValueError, "no bucket");
    sqlite3 *db = (sqlite3 *)(intptr_t)handle;
    sqlite3_stmt *st = prepared(db, sql, sql_len);
    if (st == NULL)
        return NULL;
    int rc = SQLITE_DONE;
    Texts t = {0};
    Groups gs = {0};
    PyObject *out = NULL;
    int give_up = 0, r = 0;
    int32_t last[3] = {-1, -1, -1}; /* each text column's in the row before */
    if (bind_args(st, params) < 0)
        goto done;
    Py_BEGIN_ALLOW_THREADS;
    while ((rc = api.step(st)) == SQLITE_ROW)
        if ((r = sum_row(st, bucket, &t, &gs, last)) != 0)
            break;
    Py_END_ALLOW_THREADS;
    if (r < 0) {
        PyErr_NoMemory();
        goto done;
    }
    if (r > 0) {
        give_up = 1;
        goto done;
    }
    if (rc != SQLITE_DONE) {
        raise_sqlite(db, rc);
        goto done;
    }
    if ((r = rank_texts(&t)) != 0) {
        give_up = r > 0;
        goto done;
    }
    group_texts = &t;
    qsort(gs.items, (size_t)gs.used, sizeof *gs.items, group_cmp);
    out = PyList_New((Py_ssize_t)gs.used);
    for (int i = 0; out != NULL && i < gs.used; i++) {
        Group *x = &gs.items[i];
        PyObject *row = Py_BuildValue(
            "(OLOOLLLLLLLLLL)", t.items[x->agent].str, x->g, t.items[x->project].str,
            t.items[x->model].str, x->s[0], x->s[1], x->s[2], x->s[3], x->s[4], x->s[5], x->s[6],
            x->s[7], x->s[8], x->s[9]);
        if (row == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, (Py_ssize_t)i, row);
    }
done:
    api.finalize(st);
    texts_free(&t);
    free(gs.items);
    free(gs.slots);
    if (give_up) {
        Py_XDECREF(out);
        Py_RETURN_NONE;
    }
    return out;
}

/* ---- lines holding a needle --------------------------------------------- */

/* tail.lines_with in one pass: the lines of buf[start:end] that hold any of
 * the needles, in file order, each once. bytes.find takes a pass per needle
 * and, for Codex's three, CPython's two-way search was a twentieth of a parse
 * worker's time; memmem finds each needle's next place only after the line
 * before it. start must be 0 or just after a newline, end just after one
 * (where the line a needle is found in has no newline by end, it ends at end). */
static PyObject *lines_with(PyObject *self, PyObject *args) {
    Py_buffer buf;
    Py_ssize_t start, end, s, e;
    PyObject *needles;
    Needles n;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nnO!", &buf, &start, &end, &PyTuple_Type, &needles))
        return NULL;
    PyObject *out = NULL;
    if (needles_init(&n, buf.buf, buf.len, start, end, needles) < 0)
        goto done;
    out = PyList_New(0);
    if (out == NULL)
        goto done;
    while (needles_next(&n, &s, &e)) {
        PyObject *line = PyBytes_FromStringAndSize((const char *)buf.buf + s, e - s);
        if (line == NULL || PyList_Append(out, line) < 0) {
            Py_XDECREF(line);
            Py_CLEAR(out);
            goto done;
        }
        Py_DECREF(line);
    }
done:
    PyBuffer_Release(&buf);
    return out;
}

static PyMethodDef methods[] = {
    {"pack", pack, METH_O, "pack(rows) -> bytes: a list of equal-length tuples, packed."},
    {"unpack", unpack, METH_O, "unpack(packed) -> list of tuples: pack's rows back."},
    {"fold_blocks", fold_blocks, METH_VARARGS,
     "fold_blocks(handle, sql, params, span_ms, synthetic) -> list of blocks and gaps, or None."},
    {"priced_rows", priced_rows, METH_VARARGS,
     "priced_rows(entries, rates, wins, fast, threshold) -> merge_rows's priced rows, or None."},
    {"bucket_sums", bucket_sums, METH_VARARGS,
     "bucket_sums(handle, sql, params, bucket_ms) -> sums per (agent, bucket, model), or None."},
    {"lines_with", lines_with, METH_VARARGS,
     "lines_with(buf, start, end, needles) -> list of bytes: the lines holding a needle."},
    {"register", register_, METH_NOARGS,
     "register() -> bool: give connections opened from now on tmuxtok_handle()."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rows", NULL, -1, methods};

PyMODINIT_FUNC PyInit__rows(void) {
    if (PyType_Ready(&StatementType) < 0 || PyType_Ready(&KeysType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Error = PyErr_NewException("tmuxtok.ingest._rows.Error", NULL, NULL);
    if (Error == NULL || PyModule_AddObjectRef(m, "Error", Error) < 0 ||
        PyModule_AddObjectRef(m, "Statement", (PyObject *)&StatementType) < 0 ||
        PyModule_AddObjectRef(m, "Keys", (PyObject *)&KeysType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
