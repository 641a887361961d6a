/*
 * Codex CLI's rollout lines, read in C: the Codex part of a cold ingest.
 *
 * feed_span(parser, buf, start, end, needles, merged, limits, other, rules)
 * takes the lines of buf[start:end] that hold a needle, as tail.lines_with
 * finds them, in file order, and does with each what CodexParser.feed does:
 *   - token_count: its rate-limit readings are appended to `limits` (as
 *     LimitSnapshot's), and the usage its cumulative total adds is merged into
 *     `merged` (key -> events.entry's list) by ingest.batch.fold's rule;
 *   - session_meta, turn_context: the parser's session, project, model and
 *     start are set from it;
 *   - any other line: nothing.
 * The parser's state (sid, model, prev, resets, start_ms, project) is read
 * from it first and written back last. A line this reader is not sure of goes
 * to other(line) (the parser's own feed) at once, the state written back
 * before and read again after, so every line is read in file order by one
 * reader or the other. Returns how many events it merged.
 *
 * Refusing is always safe, so this reader refuses what it is not sure of:
 * whatever _jsonscan.h refuses, escapes in a text it reads, a count that is
 * not a plain integer, a negative number in a rate-limit window, a time it
 * cannot read, and every line that would be skipped and counted (a time out
 * of range, a used_percent or reset out of range, a reset without its last
 * usage). It must never take a line the parser would read otherwise:
 * tests/sources/test_codex_rollout.py holds the two to the same results.
 */
#include "../../_jsonscan.h" /* Python.h, the reader, times */
#include "../../_merged.h"   /* ingest.batch.fold */
#include "../../_needles.h"
#include <stdlib.h>

enum { ABSENT = 0, PLAIN = 1, OTHER = 2 };
enum { TAKEN = 0, REFUSE = -1 };

typedef struct {
    int64_t v[5]; /* input, cached input, output, reasoning output, total (filled as _vec does) */
} Vec;

typedef struct {
    int present;
    double pct;
    int has_minutes, has_at, has_in;
    int64_t minutes;
    double at, in;
} Window;

typedef struct {
    Str kind, ts, ptype, id, cwd, model;
    int ts_is; /* ABSENT, PLAIN (a string) or OTHER */
    int has_kind, has_payload, has_ptype, has_id, has_cwd, has_model;
    int info; /* an object */
    int has_last;
    Vec total, last;
    Window win[2]; /* primary, secondary */
} CLine;

/* What feed_span is given once: the rules the Python parser reads by. */
typedef struct {
    PyObject *agent, *default_model, *limit_type, *log;
    int64_t max_tokens, ts_min, ts_max, burst_ms;
    double max_pct, epoch_ms_above;
    int64_t five_hour_s, week_s, longest_s, skew_s;
    PyObject *w5h, *weekly, *unknown; /* window names */
} Rules;

typedef struct {
    PyObject *sid, *model, *project; /* owned */
    int has_prev, has_start;
    int64_t prev[5], resets, start_ms;
} State;

/* --- one line ------------------------------------------------------------------------ */

static const char *const COUNTS[5] = {"input_tokens", "cached_input_tokens", "output_tokens",
                                      "reasoning_output_tokens", "total_tokens"};

static int counts_field(Reader *r, const Str *k, Vec *out, unsigned *seen, int64_t max_tokens) {
    for (int i = 0; i < 5; i++)
        if (key_is(k, COUNTS[i]))
            return first(seen, 1u << i) < 0 || count(r, &out->v[i]) < 0 || out->v[i] > max_tokens
                       ? -1
                       : 0;
    return value(r, 3);
}

/* Counts as values.tok takes them (0 where absent), but only plain integers;
 * the total filled as parser._vec does. */
static int counts(Reader *r, Vec *out, int64_t max_tokens) {
    unsigned seen = 0;
    memset(out, 0, sizeof *out);
    if (opens(r, '{') < 0) return -1;
    MEMBERS(r, counts_field(r, &k, out, &seen, max_tokens));
    if (!out->v[4]) out->v[4] = out->v[0] + out->v[2];
    return 0;
}

/* A non-negative number, as a double (strtod rounds as Python's float() does). */
static int real(Reader *r, double *out) {
    cur_t s;
    int integer;
    char tmp[32];
    if (r->p >= r->end || *r->p < '0' || *r->p > '9') return -1;
    if (number(r, &s, &integer) < 0) return -1;
    Py_ssize_t n = r->p - s;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    *out = strtod(tmp, NULL);
    return 0;
}

static int null(Reader *r) { return literal(r, "null", 4); }

static int is_null(Reader *r) { return r->p < r->end && *r->p == 'n'; }

static int window_field(Reader *r, const Str *k, Window *w, unsigned *seen) {
    if (key_is(k, "used_percent")) return first(seen, 1) < 0 ? -1 : real(r, &w->pct);
    if (key_is(k, "window_minutes")) {
        if (first(seen, 2) < 0) return -1;
        if (is_null(r)) return null(r);
        w->has_minutes = 1;
        return count(r, &w->minutes);
    }
    if (key_is(k, "resets_at")) {
        if (first(seen, 4) < 0) return -1;
        if (is_null(r)) return null(r);
        w->has_at = 1;
        return real(r, &w->at);
    }
    if (key_is(k, "resets_in_seconds")) {
        if (first(seen, 8) < 0) return -1;
        if (is_null(r)) return null(r);
        w->has_in = 1;
        return real(r, &w->in);
    }
    return value(r, 3);
}

static int window(Reader *r, Window *w) {
    unsigned seen = 0;
    memset(w, 0, sizeof *w);
    if (is_null(r)) return null(r);
    if (opens(r, '{') < 0) return -1;
    MEMBERS(r, window_field(r, &k, w, &seen));
    if (!(seen & 1)) return -1; /* no used_percent: the parser passes the window over */
    w->present = 1;
    return 0;
}

static int limits_field(Reader *r, const Str *k, CLine *l, unsigned *seen) {
    if (key_is(k, "primary")) return first(seen, 1) < 0 ? -1 : window(r, &l->win[0]);
    if (key_is(k, "secondary")) return first(seen, 2) < 0 ? -1 : window(r, &l->win[1]);
    return value(r, 2);
}

static int info_field(Reader *r, const Str *k, CLine *l, unsigned *seen, int64_t max_tokens) {
    if (key_is(k, "total_token_usage"))
        return first(seen, 1) < 0 ? -1 : counts(r, &l->total, max_tokens);
    if (key_is(k, "last_token_usage")) {
        if (first(seen, 2) < 0) return -1;
        if (is_null(r)) return null(r);
        l->has_last = 1;
        return counts(r, &l->last, max_tokens);
    }
    return value(r, 2);
}

/* A text the parser reads with values.text: a string without escapes, or
 * any other value (read as ""); -1 to refuse. */
static int text_field(Reader *r, unsigned *seen, unsigned bit, Str *s, int *has) {
    if (first(seen, bit) < 0) return -1;
    if (r->p < r->end && *r->p == '"') {
        if (string(r, s) < 0 || s->escaped) return -1;
        *has = 1;
        return 0;
    }
    return value(r, 1);
}

static int payload_field(Reader *r, const Str *k, CLine *l, unsigned *seen, int64_t max_tokens) {
    if (key_is(k, "type")) {
        if (first(seen, 1) < 0) return -1;
        if (r->p < r->end && *r->p == '"') {
            l->has_ptype = 1;
            return plain_string(r, &l->ptype);
        }
        return value(r, 1);
    }
    if (key_is(k, "info")) {
        if (first(seen, 2) < 0) return -1;
        if (is_null(r)) return null(r);
        if (opens(r, '{') < 0) return -1;
        unsigned iseen = 0;
        MEMBERS(r, info_field(r, &k, l, &iseen, max_tokens));
        if (!(iseen & 1)) return -1; /* no total: the parser skips the line */
        l->info = 1;
        return 0;
    }
    if (key_is(k, "rate_limits")) {
        if (first(seen, 4) < 0) return -1;
        if (is_null(r)) return null(r);
        if (opens(r, '{') < 0) return -1;
        unsigned lseen = 0;
        MEMBERS(r, limits_field(r, &k, l, &lseen));
        return 0;
    }
    if (key_is(k, "id")) return text_field(r, seen, 8, &l->id, &l->has_id);
    if (key_is(k, "cwd")) return text_field(r, seen, 16, &l->cwd, &l->has_cwd);
    if (key_is(k, "model")) return text_field(r, seen, 32, &l->model, &l->has_model);
    return value(r, 1);
}

static int top_field(Reader *r, const Str *k, CLine *l, unsigned *seen, int64_t max_tokens) {
    if (key_is(k, "timestamp")) {
        if (first(seen, 1) < 0) return -1;
        if (r->p < r->end && *r->p == '"') {
            l->ts_is = PLAIN;
            return plain_string(r, &l->ts);
        }
        l->ts_is = OTHER;
        return value(r, 1);
    }
    if (key_is(k, "type")) {
        if (first(seen, 2) < 0) return -1;
        l->has_kind = 1;
        return plain_string(r, &l->kind);
    }
    if (key_is(k, "payload")) {
        if (first(seen, 4) < 0) return -1;
        if (opens(r, '{') < 0) return -1;
        unsigned pseen = 0;
        MEMBERS(r, payload_field(r, &k, l, &pseen, max_tokens));
        l->has_payload = 1;
        return 0;
    }
    return value(r, 1);
}

/* The whole line at [p, end), valid JSON with a type and a payload object: 0, or -1. */
static int read_line(cur_t p, cur_t end, CLine *l, int64_t max_tokens) {
    Reader rd = {p, end}, *r = &rd;
    memset(l, 0, sizeof *l);
    ws(r);
    if (opens(r, '{') < 0) return -1;
    unsigned seen = 0;
    MEMBERS(r, top_field(r, &k, l, &seen, max_tokens));
    ws(r);
    if (r->p != r->end) return -1;
    return l->has_kind && l->has_payload ? 0 : -1;
}

/* --- what a line does ---------------------------------------------------------------- */

static int str_is(const Str *s, const char *word) { return key_is(s, word); }

static PyObject *window_name(const Rules *u, const Window *w) {
    if (!w->has_minutes) return Py_NewRef(u->unknown);
    if (w->minutes >= 240 && w->minutes <= 360) return Py_NewRef(u->w5h);
    if (w->minutes >= 8640 && w->minutes <= 11520) return Py_NewRef(u->weekly);
    return PyUnicode_FromFormat("other:%lld", (long long)w->minutes);
}

/* rules.window_seconds of the window named for w->minutes. */
static int64_t window_seconds(const Rules *u, const Window *w) {
    if (!w->has_minutes) return u->longest_s;
    if (w->minutes >= 240 && w->minutes <= 360) return u->five_hour_s;
    if (w->minutes >= 8640 && w->minutes <= 11520) return u->week_s;
    if (w->minutes < 1000000000) { /* its digits, fewer than 10 */
        int64_t length = w->minutes * 60;
        if (length > 0 && length <= u->longest_s) return length;
    }
    return u->longest_s;
}

/* The reading's reset time (has_resets 0 where none): parser._reading's. */
static double resets_of(const Rules *u, const Window *w, double at, int *has_resets) {
    *has_resets = 1;
    if (w->has_at) return w->at > u->epoch_ms_above ? w->at / 1000.0 : w->at;
    if (w->has_in) return at + w->in;
    *has_resets = 0;
    return 0;
}

/* Whether the parser would keep this reading (not skip and count it). */
static int reading_kept(const Rules *u, const Window *w, double at) {
    if (!(0 <= w->pct && w->pct <= u->max_pct)) return 0;
    int has;
    double resets = resets_of(u, w, at, &has);
    if (has && resets > at) {
        double last = at + (double)window_seconds(u, w) + (double)u->skew_s;
        if (!(at < resets && resets <= last)) return 0;
    }
    return 1;
}

static int append_reading(const Rules *u, const Window *w, double at, PyObject *limits) {
    int has;
    double resets = resets_of(u, w, at, &has);
    PyObject *fields = PyTuple_New(7);
    if (fields == NULL) return -1;
    PyObject *name = window_name(u, w);
    PyObject *pct = PyFloat_FromDouble(w->pct);
    PyObject *res = has ? PyFloat_FromDouble(resets) : Py_NewRef(Py_None);
    PyObject *mins = w->has_minutes ? PyLong_FromLongLong(w->minutes) : Py_NewRef(Py_None);
    PyObject *cap = PyFloat_FromDouble(at);
    PyTuple_SET_ITEM(fields, 0, Py_NewRef(u->agent));
    PyTuple_SET_ITEM(fields, 1, name);
    PyTuple_SET_ITEM(fields, 2, pct);
    PyTuple_SET_ITEM(fields, 3, res);
    PyTuple_SET_ITEM(fields, 4, mins);
    PyTuple_SET_ITEM(fields, 5, cap);
    PyTuple_SET_ITEM(fields, 6, Py_NewRef(u->log));
    if (!name || !pct || !res || !mins || !cap) {
        Py_DECREF(fields);
        return -1;
    }
    /* tuple.__new__(LimitSnapshot, fields): the namedtuple, without its Python __new__ */
    PyObject *args = PyTuple_Pack(1, fields);
    Py_DECREF(fields);
    if (args == NULL) return -1;
    PyObject *snap = PyTuple_Type.tp_new((PyTypeObject *)u->limit_type, args, NULL);
    Py_DECREF(args);
    if (snap == NULL) return -1;
    int rc = PyList_Append(limits, snap);
    Py_DECREF(snap);
    return rc;
}

/* parser._advance, taking its usage as an entry merged into `merged`: 1 merged, 0 none, -1 error. */
static int advance(State *st, const Rules *u, const Vec *cur, const Vec *last, int64_t ts,
                   PyObject *merged) {
    if (st->has_start && ts - st->start_ms < u->burst_ms) { /* a fork's replayed history */
        memcpy(st->prev, cur->v, sizeof st->prev);
        st->has_prev = 1;
        return 0;
    }
    if (st->has_prev && memcmp(st->prev, cur->v, sizeof st->prev) == 0) return 0;
    int64_t d[5];
    if (st->has_prev && cur->v[4] < st->prev[4]) {
        st->resets++;
        memcpy(d, last->v, sizeof d);
    } else if (!st->has_prev) {
        memcpy(d, cur->v, sizeof d);
    } else {
        for (int i = 0; i < 5; i++) d[i] = cur->v[i] > st->prev[i] ? cur->v[i] - st->prev[i] : 0;
    }
    memcpy(st->prev, cur->v, sizeof st->prev);
    st->has_prev = 1;
    int64_t i = d[0], c = d[1], o = d[2], r = d[3], total = d[4];
    if (!(i || o || total)) return 0;
    int64_t cached = c < i ? c : i;
    PyObject *entry = PyList_New(17);
    if (entry == NULL) return -1;
    PyObject *model = PyUnicode_GET_LENGTH(st->model) ? st->model : u->default_model;
    PyObject *items[17] = {
        Py_NewRef(u->agent),
        PyUnicode_FromFormat("%U:%lld:%lld", st->sid, (long long)st->resets, (long long)cur->v[4]),
        PyLong_FromLongLong(ts),
        Py_NewRef(model),
        PyLong_FromLongLong(i - cached),
        PyLong_FromLongLong(o),
        PyLong_FromLong(0),
        PyLong_FromLong(0),
        PyLong_FromLongLong(cached),
        PyLong_FromLongLong(r < o ? r : o),
        PyLong_FromLongLong(total ? total : i + o),
        Py_NewRef(st->sid),
        Py_NewRef(st->project),
        Py_NewRef(Py_None),
        Py_NewRef(Py_False),
        PyUnicode_FromStringAndSize("", 0),
        Py_NewRef(Py_False),
    };
    int bad = 0;
    for (int k = 0; k < 17; k++) {
        if (items[k] == NULL) bad = 1;
        PyList_SET_ITEM(entry, k, items[k]);
    }
    if (bad) {
        Py_DECREF(entry);
        return -1;
    }
    Rank rk = {0, (long long)(total ? total : i + o), (long long)ts}; /* a main-chain record */
    int rc = fold_entry(merged, PyList_GET_ITEM(entry, E_KEY), entry, &rk);
    Py_DECREF(entry);
    return rc < 0 ? -1 : 1;
}

/* Replace *slot with the text of s: 0, or -1 with an exception. */
static int set_text(PyObject **slot, const Str *s) {
    PyObject *t = text(s);
    if (t == NULL) return -1;
    Py_SETREF(*slot, t);
    return 0;
}

/* One line: TAKEN (merged counts what it merged), REFUSE, or -2 on error. */
static int take(State *st, const Rules *u, cur_t p, cur_t e, PyObject *merged, PyObject *limits,
                Py_ssize_t *n_merged) {
    CLine l;
    if (read_line(p, e, &l, u->max_tokens) < 0) return REFUSE;
    int64_t ts = -1;
    int ts_ok = 0;
    if (l.ts_is == PLAIN) {
        ts = ts_ms(&l.ts);
        if (ts < 0) return REFUSE; /* a form only Python reads */
        ts_ok = ts >= u->ts_min && ts < u->ts_max;
    }
    if (str_is(&l.kind, "session_meta")) {
        if (l.has_id && l.id.n && set_text(&st->sid, &l.id) < 0) return -2;
        if (l.has_cwd && l.cwd.n && set_text(&st->project, &l.cwd) < 0) return -2;
        if (l.has_model && l.model.n && set_text(&st->model, &l.model) < 0) return -2;
        if (!st->has_start && ts_ok) {
            st->has_start = 1;
            st->start_ms = ts;
        }
        return TAKEN;
    }
    if (str_is(&l.kind, "turn_context")) {
        if (l.has_model && l.model.n && set_text(&st->model, &l.model) < 0) return -2;
        return TAKEN;
    }
    if (!str_is(&l.kind, "event_msg") || !l.has_ptype || !str_is(&l.ptype, "token_count"))
        return TAKEN; /* nothing to read in it */
    if (!ts_ok) return REFUSE; /* skipped and counted by the parser */
    double at = (double)ts / 1000.0;
    for (int i = 0; i < 2; i++)
        if (l.win[i].present && !reading_kept(u, &l.win[i], at)) return REFUSE;
    if (l.info && !l.has_last && st->has_prev && !(st->has_start && ts - st->start_ms < u->burst_ms) &&
        memcmp(st->prev, l.total.v, sizeof st->prev) != 0 && l.total.v[4] < st->prev[4])
        return REFUSE; /* a reset, and no last usage to count: the parser skips it */
    for (int i = 0; i < 2; i++)
        if (l.win[i].present && append_reading(u, &l.win[i], at, limits) < 0) return -2;
    if (l.info) {
        int got = advance(st, u, &l.total, &l.last, ts, merged);
        if (got < 0) return -2;
        *n_merged += got;
    }
    return TAKEN;
}

/* --- the parser's state --------------------------------------------------------------- */

static int get_i64(PyObject *o, int64_t *out) {
    if (!PyLong_Check(o)) return -1;
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow || (v == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return -1;
    }
    *out = v;
    return 0;
}

static PyObject *get_text(PyObject *parser, const char *name) {
    PyObject *v = PyObject_GetAttrString(parser, name);
    if (v != NULL && !PyUnicode_Check(v)) {
        Py_DECREF(v);
        PyErr_Format(PyExc_TypeError, "parser.%s is not a str", name);
        return NULL;
    }
    return v;
}

static void state_clear(State *st) {
    Py_CLEAR(st->sid);
    Py_CLEAR(st->model);
    Py_CLEAR(st->project);
}

/* 0, 1 if the state holds what this reader cannot (the parser reads the span), -1 error. */
static int state_load(State *st, PyObject *parser) {
    state_clear(st);
    st->sid = get_text(parser, "sid");
    st->model = get_text(parser, "model");
    st->project = get_text(parser, "project");
    if (!st->sid || !st->model || !st->project) return -1;
    PyObject *prev = PyObject_GetAttrString(parser, "prev");
    PyObject *resets = PyObject_GetAttrString(parser, "resets");
    PyObject *start = PyObject_GetAttrString(parser, "start_ms");
    int rc = 0;
    if (!prev || !resets || !start) {
        rc = -1;
    } else {
        st->has_prev = prev != Py_None;
        if (st->has_prev) {
            if (!PyTuple_Check(prev) || PyTuple_GET_SIZE(prev) != 5) rc = 1;
            for (int i = 0; rc == 0 && i < 5; i++)
                if (get_i64(PyTuple_GET_ITEM(prev, i), &st->prev[i]) < 0) rc = 1;
        }
        if (rc == 0 && get_i64(resets, &st->resets) < 0) rc = 1;
        st->has_start = start != Py_None;
        if (rc == 0 && st->has_start && get_i64(start, &st->start_ms) < 0) rc = 1;
    }
    Py_XDECREF(prev);
    Py_XDECREF(resets);
    Py_XDECREF(start);
    return rc;
}

static int state_store(const State *st, PyObject *parser) {
    PyObject *prev = Py_None, *resets = NULL, *start = Py_None;
    Py_INCREF(Py_None);
    Py_INCREF(Py_None);
    int rc = -1;
    if (st->has_prev) {
        Py_DECREF(prev);
        prev = Py_BuildValue("(LLLLL)", (long long)st->prev[0], (long long)st->prev[1],
                             (long long)st->prev[2], (long long)st->prev[3], (long long)st->prev[4]);
        if (prev == NULL) goto done;
    }
    if (st->has_start) {
        Py_DECREF(start);
        start = PyLong_FromLongLong(st->start_ms);
        if (start == NULL) goto done;
    }
    resets = PyLong_FromLongLong(st->resets);
    if (resets == NULL) goto done;
    if (PyObject_SetAttrString(parser, "sid", st->sid) < 0 ||
        PyObject_SetAttrString(parser, "model", st->model) < 0 ||
        PyObject_SetAttrString(parser, "project", st->project) < 0 ||
        PyObject_SetAttrString(parser, "prev", prev) < 0 ||
        PyObject_SetAttrString(parser, "resets", resets) < 0 ||
        PyObject_SetAttrString(parser, "start_ms", start) < 0)
        goto done;
    rc = 0;
done:
    Py_XDECREF(prev);
    Py_XDECREF(resets);
    Py_XDECREF(start);
    return rc;
}

/* --- the module ----------------------------------------------------------------------- */

static int rules_of(PyObject *t, Rules *u) {
    double max_pct, epoch_ms_above;
    if (!PyArg_ParseTuple(t, "UUOLLLLddLLLL", &u->agent, &u->default_model, &u->limit_type,
                          &u->max_tokens, &u->ts_min, &u->ts_max, &u->burst_ms, &max_pct,
                          &epoch_ms_above, &u->five_hour_s, &u->week_s, &u->longest_s,
                          &u->skew_s))
        return -1;
    if (!PyType_Check(u->limit_type) ||
        !PyType_IsSubtype((PyTypeObject *)u->limit_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "rules: the limit type must be a namedtuple");
        return -1;
    }
    u->max_pct = max_pct;
    u->epoch_ms_above = epoch_ms_above;
    u->log = PyUnicode_FromString("log");
    u->w5h = PyUnicode_FromString("5h");
    u->weekly = PyUnicode_FromString("weekly");
    u->unknown = PyUnicode_FromString("unknown");
    return u->log && u->w5h && u->weekly && u->unknown ? 0 : -1;
}

static void rules_clear(Rules *u) {
    Py_CLEAR(u->log);
    Py_CLEAR(u->w5h);
    Py_CLEAR(u->weekly);
    Py_CLEAR(u->unknown);
}

static PyObject *feed_span(PyObject *self, PyObject *args) {
    PyObject *parser, *needles, *merged, *limits, *other, *rules;
    Py_buffer buf;
    Py_ssize_t start, end, s, e, n_merged = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oy*nnO!O!O!OO!", &parser, &buf, &start, &end, &PyTuple_Type,
                          &needles, &PyDict_Type, &merged, &PyList_Type, &limits, &other,
                          &PyTuple_Type, &rules))
        return NULL;
    Rules u = {0};
    State st = {0};
    Needles n;
    PyObject *result = NULL;
    if (rules_of(rules, &u) < 0 || needles_init(&n, buf.buf, buf.len, start, end, needles) < 0)
        goto done;
    int loaded = state_load(&st, parser);
    if (loaded != 0) {
        if (loaded > 0) result = Py_NewRef(Py_None); /* the parser reads it all */
        goto done;
    }
    cur_t b = (cur_t)buf.buf;
    while (needles_next(&n, &s, &e)) {
        int rc = take(&st, &u, b + s, b + e, merged, limits, &n_merged);
        if (rc == -2) goto done;
        if (rc == REFUSE) {
            if (state_store(&st, parser) < 0) goto done;
            PyObject *line = PyBytes_FromStringAndSize((const char *)b + s, e - s);
            if (line == NULL) goto done;
            PyObject *got = PyObject_CallOneArg(other, line);
            Py_DECREF(line);
            if (got == NULL) goto done;
            Py_DECREF(got);
            int again = state_load(&st, parser);
            if (again < 0) goto done;
            if (again > 0) { /* the parser's own read left a state only it reads: it goes on */
                PyErr_SetString(PyExc_ValueError, "parser state this reader cannot hold");
                goto done;
            }
        }
    }
    if (state_store(&st, parser) < 0) goto done;
    result = PyLong_FromSsize_t(n_merged);
done:
    state_clear(&st);
    rules_clear(&u);
    PyBuffer_Release(&buf);
    return result;
}

static PyMethodDef methods[] = {
    {"feed_span", feed_span, METH_VARARGS,
     "feed_span(parser, buf, start, end, needles, merged, limits, other, rules) -> events "
     "merged, or None if the parser must read the span itself."},
    {"fold", fold, METH_VARARGS, "fold(merged, entry) -> None: ingest.batch.fold's rule."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rollout", NULL, -1, methods};

PyMODINIT_FUNC PyInit__rollout(void) { return PyModule_Create(&module); }
