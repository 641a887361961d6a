/*
 * Claude Code's usual assistant lines, read in C: the hot loop of a cold ingest.
 *
 * lines(buf, start, end, needle, max_tokens, ts_min_ms, ts_max_ms) finds the
 * lines of buf[start:end] that contain needle, exactly as tail.lines_with does,
 * and gives for each, in file order:
 *   - a tuple (id, model, ts_ms, input, output, cache_create, cache_read,
 *     cache_1h, speed, session, cwd, cost_usd, sidechain) for a line that the
 *     typed path (parser._feed_typed) would turn into an event: cache_1h is
 *     None where usage.cache_creation is absent or null, speed and cost_usd
 *     None where absent or null;
 *   - nothing for a line that can yield nothing: valid JSON (by rules stricter
 *     than orjson's and msgspec's) whose top-level "type" is not "assistant"
 *     or "progress";
 *   - the line's bytes for everything else, which the parser reads in Python.
 *
 * fold_lines(..., merged, memo, other, agent, max_cost_usd, max_speed_chars) is
 * what a read uses: the same lines, but each usual line is merged straight into
 * merged (message.id -> a list of UsageEvent's fields) by ingest.batch.fold's
 * rule, with no tuple or event built for a line that cannot stand for its
 * response, and each line lines() would give back is passed to other(line) at
 * once, so that the parser merges its events in file order too. fold(merged,
 * entry) is that rule alone, for the events of the lines handed back. lines()
 * stays for the tests, which check what the reader takes line by line.
 *
 * Refusing is always safe: a refused line goes the way every line went before.
 * So this reader refuses whatever it is not sure of (escapes in a field it
 * reads, a key given twice, odd numbers, invalid UTF-8, deep nesting, any
 * time not written YYYY-MM-DDTHH:MM:SS[.fff|.ffffff][Z|+00:00]), and it must
 * never take a line the typed path would not, nor read one differently:
 * tests/sources/test_claude_lines.py holds the two to the same results.
 */
#include "../../_jsonscan.h" /* Python.h, the reader, times */

typedef struct {
    Str id, model, speed;
    int has_speed;
    int64_t inp, out, create, read, one_hour;
    int has_cc;
} Message;

static int cc_field(Reader *r, const Str *k, Message *m, unsigned *seen) {
    if (!key_is(k, "ephemeral_1h_input_tokens")) return value(r, 3);
    return first(seen, 1) < 0 ? -1 : count(r, &m->one_hour);
}

/* usage.cache_creation: typed.CacheCreation or null. */
static int cache_creation(Reader *r, Message *m) {
    m->one_hour = 0;
    m->has_cc = 0;
    if (literal(r, "null", 4) == 0) return 0;
    if (opens(r, '{') < 0) return -1;
    m->has_cc = 1;
    unsigned seen = 0;
    MEMBERS(r, cc_field(r, &k, m, &seen));
    return 0;
}

static int usage_field(Reader *r, const Str *k, Message *m, unsigned *seen) {
    static const char *const counts[] = {"input_tokens", "output_tokens",
                                         "cache_creation_input_tokens", "cache_read_input_tokens"};
    int64_t *into[] = {&m->inp, &m->out, &m->create, &m->read};
    for (int i = 0; i < 4; i++)
        if (key_is(k, counts[i])) return first(seen, 1u << i) < 0 ? -1 : count(r, into[i]);
    if (key_is(k, "cache_creation")) return first(seen, 16) < 0 ? -1 : cache_creation(r, m);
    if (!key_is(k, "speed")) return value(r, 2);
    if (first(seen, 32) < 0) return -1;
    m->has_speed = 0;
    if (literal(r, "null", 4) == 0) return 0;
    m->has_speed = 1;
    return plain_string(r, &m->speed);
}

/* message.usage: typed.ClaudeUsage, every field with a default. */
static int usage(Reader *r, Message *m) {
    m->inp = m->out = m->create = m->read = m->one_hour = 0;
    m->has_cc = m->has_speed = 0;
    if (opens(r, '{') < 0) return -1;
    unsigned seen = 0;
    MEMBERS(r, usage_field(r, &k, m, &seen));
    return 0;
}

static int message_field(Reader *r, const Str *k, Message *m, unsigned *seen) {
    if (key_is(k, "id")) return first(seen, 1) < 0 ? -1 : plain_string(r, &m->id);
    if (key_is(k, "model")) return first(seen, 2) < 0 ? -1 : plain_string(r, &m->model);
    if (key_is(k, "usage")) return first(seen, 4) < 0 ? -1 : usage(r, m);
    return value(r, 1);
}

/* typed.Message: id, model and usage have no default. */
static int message(Reader *r, Message *m) {
    if (opens(r, '{') < 0) return -1;
    unsigned seen = 0;
    MEMBERS(r, message_field(r, &k, m, &seen));
    return seen == 7 ? 0 : -1;
}

/* What an assistant line says (typed.AssistantLine), or the subagent's line a
 * progress line repeats in data.message (typed.Nested). */
typedef struct {
    Str type, timestamp;
    int has_type, has_message, has_timestamp, sidechain, api_error;
    int typed_ok; /* every field read has msgspec's type for it */
    cur_t cost;   /* the costUSD number's text, or NULL */
    Py_ssize_t cost_n;
    int cost_integer;
    Message m;
} Said;

typedef struct {
    Said said;
    Str session, cwd;
    int has_nested;       /* data.message is an object */
    int nested_assistant; /* ... whose type is "assistant" */
    Said nested;
} Line;

enum { REFUSE = -1, NOTHING = 0, USUAL = 1, REPEATED = 2 };
enum { NOT_MINE = 1 };

/* Read the value of key k if it is one of Said's: 0 read, NOT_MINE, or -1. */
static int said_field(Reader *r, const Str *k, Said *d, unsigned *seen) {
    cur_t at = r->p;
    if (key_is(k, "type")) {
        if (first(seen, 1) < 0) return -1;
        if (r->p < r->end && *r->p == '"') {
            if (string(r, &d->type) < 0 || d->type.escaped) return -1;
            d->has_type = 1;
            return 0;
        }
        d->typed_ok = 0;
        return value(r, 2);
    }
    if (key_is(k, "message")) {
        if (first(seen, 2) < 0) return -1;
        if (message(r, &d->m) == 0) {
            d->has_message = 1;
            return 0;
        }
        r->p = at; /* a message that failed part-way is read again from its start */
        if (literal(r, "null", 4) == 0) return 0; /* None: the typed path gives up */
        d->typed_ok = 0;
        return value(r, 2);
    }
    if (key_is(k, "timestamp")) {
        if (first(seen, 4) < 0) return -1;
        if (plain_string(r, &d->timestamp) == 0) {
            d->has_timestamp = 1;
            return 0;
        }
        d->typed_ok = 0;
        r->p = at;
        return value(r, 2);
    }
    if (key_is(k, "isApiErrorMessage")) {
        if (first(seen, 8) < 0) return -1;
        if (boolean(r, &d->api_error) == 0) return 0;
        d->typed_ok = 0;
        return value(r, 2);
    }
    if (key_is(k, "isSidechain")) {
        if (first(seen, 16) < 0) return -1;
        if (boolean(r, &d->sidechain) == 0) return 0;
        d->typed_ok = 0;
        return value(r, 2);
    }
    if (key_is(k, "costUSD")) {
        if (first(seen, 32) < 0) return -1;
        if (literal(r, "null", 4) == 0) return 0;
        if (r->p < r->end && (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))) {
            int rc = number(r, &d->cost, &d->cost_integer);
            d->cost_n = r->p - d->cost;
            return rc;
        }
        d->typed_ok = 0;
        return value(r, 2);
    }
    return NOT_MINE;
}


static int nested_field(Reader *r, const Str *k, Said *d, unsigned *seen) {
    int rc = said_field(r, k, d, seen);
    return rc == NOT_MINE ? value(r, 3) : rc;
}

/* data.message of a progress line: a typed.Nested, whose type, message and
 * timestamp have no default. */
static int nested(Reader *r, Said *d) {
    unsigned seen = 0;
    d->typed_ok = 1;
    r->p++; /* '{' */
    MEMBERS(r, nested_field(r, &k, d, &seen));
    if (!d->has_type || !d->has_message || !d->has_timestamp) d->typed_ok = 0;
    return 0;
}

static int data_field(Reader *r, const Str *k, Line *l, unsigned *seen) {
    if (!key_is(k, "message")) return value(r, 2);
    if (first(seen, 1) < 0) return -1;
    if (literal(r, "null", 4) == 0) return 0;
    if (r->p < r->end && *r->p == '{') {
        if (nested(r, &l->nested) < 0) return -1;
        l->has_nested = 1;
        l->nested_assistant = l->nested.has_type && key_is(&l->nested.type, "assistant");
        return 0;
    }
    l->said.typed_ok = 0; /* not a Nested */
    return value(r, 2);
}

/* data of a progress line (typed.Progress). */
static int data(Reader *r, Line *l) {
    unsigned seen = 0;
    r->p++; /* '{' */
    MEMBERS(r, data_field(r, &k, l, &seen));
    return 0;
}

static int top_field(Reader *r, const Str *k, Line *l, unsigned *seen) {
    int rc = said_field(r, k, &l->said, seen);
    if (rc != NOT_MINE) return rc;
    cur_t at = r->p;
    if (key_is(k, "sessionId") || key_is(k, "cwd")) {
        int session = key_is(k, "sessionId");
        if (first(seen, session ? 64 : 128) < 0) return -1;
        if (plain_string(r, session ? &l->session : &l->cwd) == 0) return 0;
        l->said.typed_ok = 0;
        r->p = at;
        return value(r, 1);
    }
    if (key_is(k, "data")) {
        if (first(seen, 256) < 0) return -1;
        if (literal(r, "null", 4) == 0) return 0;
        if (r->p < r->end && *r->p == '{') return data(r, l);
        l->said.typed_ok = 0;
        return value(r, 1);
    }
    return value(r, 1);
}

static int members(Reader *r, Line *l) {
    unsigned seen = 0;
    MEMBERS(r, top_field(r, &k, l, &seen));
    return 0;
}

/* The whole line at [p, end): USUAL (an assistant line the typed path takes
 * whole), REPEATED (a progress line repeating one), NOTHING or REFUSE. */
static int line(cur_t p, cur_t end, Line *l) {
    Reader rd = {p, end}, *r = &rd;
    memset(l, 0, sizeof *l);
    l->said.typed_ok = 1;
    ws(r);
    if (opens(r, '{') < 0 || members(r, l) < 0) return REFUSE;
    ws(r);
    if (r->p != r->end) return REFUSE;
    /* Valid JSON from here on. A line with no type, or one that is no string,
     * yields nothing whichever way it is read. */
    const Said *d = &l->said;
    if (d->has_type && key_is(&d->type, "assistant")) {
        /* the typed path needs a message, and data.message (if any) to be a Nested */
        int ok = d->typed_ok && d->has_message && (!l->has_nested || l->nested.typed_ok);
        return ok ? USUAL : REFUSE;
    }
    if (d->has_type && key_is(&d->type, "progress")) {
        if (!l->nested_assistant) return NOTHING; /* no subagent reply in it */
        return d->typed_ok && l->nested.typed_ok ? REPEATED : REFUSE;
    }
    return NOTHING;
}

/* --- finding the needle ------------------------------------------------------------ */

/* memmem, 16 places a step where SSE2 is: a place is looked at only where the
 * needle's first, last and a middle byte all match (three bytes together are
 * rare in JSON, where a quote alone is everywhere). */
static cur_t find(cur_t hay, cur_t end, const unsigned char *needle, Py_ssize_t n) {
#ifdef __SSE2__
    if (n >= 3) {
        Py_ssize_t mid = n / 3;
        const __m128i a = _mm_set1_epi8((char)needle[0]), b = _mm_set1_epi8((char)needle[mid]),
                      c = _mm_set1_epi8((char)needle[n - 1]);
        cur_t p = hay;
        while (end - p >= n + 15) {
            __m128i x = _mm_loadu_si128((const __m128i *)p);
            __m128i y = _mm_loadu_si128((const __m128i *)(p + mid));
            __m128i z = _mm_loadu_si128((const __m128i *)(p + n - 1));
            int mask = _mm_movemask_epi8(_mm_and_si128(
                _mm_and_si128(_mm_cmpeq_epi8(x, a), _mm_cmpeq_epi8(y, b)), _mm_cmpeq_epi8(z, c)));
            while (mask) {
                int i = __builtin_ctz(mask);
                if (memcmp(p + i, needle, n) == 0) return p + i;
                mask &= mask - 1;
            }
            p += 16;
        }
        hay = p;
    }
#endif
    if (end - hay < n) return NULL;
    return memmem(hay, end - hay, needle, n);
}

/* --- the module -------------------------------------------------------------------- */

/* What the scan does with each line holding the needle. */
typedef struct Sink Sink;
struct Sink {
    /* 1 taken, 0 hand it back, -1 error */
    int (*usual)(Sink *, const Said *, const Line *);
    /* a line handed back (s..e): 0, or -1 error */
    int (*other)(Sink *, cur_t s, cur_t e);
    int64_t max_tokens, ts_min, ts_max;
    PyObject *out;  /* lines(): the list */
    /* fold_lines() */
    PyObject *merged, *memo, *call, *agent;
    double max_cost;
    Py_ssize_t max_speed, taken;
};

/* Whether the typed path makes an event of what d says, with its time and its
 * logged cost (0 where there is none): 1 it does, 0 hand the line back, -1 error. */
static int checked(const Sink *k, const Said *d, int64_t *ts, double *cost) {
    const Message *m = &d->m;
    if (d->api_error || m->id.n == 0 || m->model.n == 0) return 0;
    if (m->model.n == 11 && memcmp(m->model.s, "<synthetic>", 11) == 0) return 0;
    *ts = d->has_timestamp ? ts_ms(&d->timestamp) : -1;
    if (*ts < k->ts_min || *ts >= k->ts_max) return 0;
    int64_t lim = k->max_tokens;
    if (m->inp > lim || m->out > lim || m->create > lim || m->read > lim || m->one_hour > lim)
        return 0;
    if (d->cost && d->cost_integer && d->cost_n > 15) return 0;
    *cost = 0;
    if (d->cost) {
        char buf[32];
        memcpy(buf, d->cost, d->cost_n);
        buf[d->cost_n] = 0;
        *cost = PyOS_string_to_double(buf, NULL, NULL);
        if (*cost == -1.0 && PyErr_Occurred()) return -1;
        if (d->cost_integer && *cost == 0) *cost = 0.0; /* an int -0 is 0, not -0.0 */
    }
    return 1;
}

/* The event tuple of what d says (session and cwd are the line's), NULL with
 * no error set to refuse it, or NULL with an error. */
static PyObject *usual(const Sink *k, const Said *d, const Line *l) {
    const Message *m = &d->m;
    int64_t ts;
    double v;
    if (checked(k, d, &ts, &v) <= 0) return NULL;
    PyObject *cost = d->cost ? PyFloat_FromDouble(v) : Py_NewRef(Py_None);
    if (!cost) return NULL;
    PyObject *cc = m->has_cc ? PyLong_FromLongLong(m->one_hour) : Py_NewRef(Py_None);
    PyObject *speed = m->has_speed ? text(&m->speed) : Py_NewRef(Py_None);
    Str empty = {(cur_t) "", 0, 0};
    return Py_BuildValue("(NNLLLLLNNNNNO)", text(&m->id), text(&m->model), (long long)ts,
                         (long long)m->inp, (long long)m->out, (long long)m->create,
                         (long long)m->read, cc, speed,
                         text(l->session.s ? &l->session : &empty),
                         text(l->cwd.s ? &l->cwd : &empty), cost,
                         d->sidechain ? Py_True : Py_False);
}

/* Every line of buf[start:end] that holds the needle, in order, to the sink. */
static int scan(Sink *k, const Py_buffer *buf, Py_ssize_t start, Py_ssize_t end,
                const Py_buffer *needle) {
    if (start < 0 || end > buf->len || start > end || needle->len == 0) {
        PyErr_SetString(PyExc_ValueError, "bad span or needle");
        return -1;
    }
    cur_t base = buf->buf;
    cur_t lim = base + end;
    cur_t from = base + start;
    cur_t at = base + start;
    while (at < lim) {
        cur_t hit = find(at, lim, needle->buf, needle->len);
        if (!hit) break;
        cur_t s = memrchr(from, '\n', hit - from);
        s = s ? s + 1 : from;
        cur_t e = memchr(hit, '\n', lim - hit);
        if (!e) e = lim;
        Line l;
        int kind = line(s, e, &l);
        int took = 0;
        if (kind == USUAL || kind == REPEATED) {
            took = k->usual(k, kind == USUAL ? &l.said : &l.nested, &l);
            if (took < 0) return -1;
        }
        if (kind != NOTHING && !took && k->other(k, s, e) < 0) return -1;
        at = e;
    }
    return 0;
}

static int append(PyObject *list, PyObject *item) {
    if (!item) return -1;
    int rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

static int list_usual(Sink *k, const Said *d, const Line *l) {
    PyObject *item = usual(k, d, l);
    if (!item) return PyErr_Occurred() ? -1 : 0;
    return append(k->out, item) < 0 ? -1 : 1;
}

static int list_other(Sink *k, cur_t s, cur_t e) {
    return append(k->out, PyBytes_FromStringAndSize((const char *)s, e - s));
}

static PyObject *lines(PyObject *self, PyObject *args) {
    Py_buffer buf, needle;
    Py_ssize_t start, end;
    Sink k = {list_usual, list_other};
    long long max_tokens, ts_min, ts_max;
    if (!PyArg_ParseTuple(args, "y*nny*LLL", &buf, &start, &end, &needle, &max_tokens, &ts_min,
                          &ts_max))
        return NULL;
    k.max_tokens = max_tokens, k.ts_min = ts_min, k.ts_max = ts_max;
    k.out = PyList_New(0);
    if (k.out && scan(&k, &buf, start, end, &needle) < 0) Py_CLEAR(k.out);
    PyBuffer_Release(&buf);
    PyBuffer_Release(&needle);
    return k.out;
}

/* --- folding: ingest.batch.merge_rows's rule, applied as lines are read -------------- */

#include "../../_merged.h"

/* One object per distinct text within a read: rows cross a pipe from the parse
 * workers, and pickle writes a repeated object once. A new reference. */
static PyObject *same(Sink *k, const Str *s) {
    static const Str empty = {(cur_t) "", 0, 0};
    PyObject *t = text(s->s ? s : &empty);
    if (!t) return NULL;
    PyObject *kept = PyDict_SetDefault(k->memo, t, t);
    Py_XINCREF(kept);
    Py_DECREF(t);
    return kept;
}

/* values.speed: "" for the standard speed or no short printable word; a
 * non-ASCII one is handed back to Python (*refuse). */
static PyObject *speed_of(Sink *k, const Message *m, int *refuse) {
    static const Str none = {(cur_t) "", 0, 0};
    const Str *s = &m->speed;
    if (!m->has_speed) return same(k, &none);
    int printable = 1;
    for (Py_ssize_t i = 0; i < s->n; i++) {
        if (s->s[i] >= 0x80) { /* its length in characters is not s->n */
            *refuse = 1;
            return NULL;
        }
        if (s->s[i] < 0x20 || s->s[i] == 0x7f) printable = 0;
    }
    if (!printable || s->n > k->max_speed || (s->n == 8 && !memcmp(s->s, "standard", 8)))
        return same(k, &none);
    return same(k, s);
}

static int fold_usual(Sink *k, const Said *d, const Line *l) {
    const Message *m = &d->m;
    int64_t ts;
    double cost;
    int ok = checked(k, d, &ts, &cost);
    if (ok <= 0) return ok;
    int refuse = 0;
    PyObject *speed = speed_of(k, m, &refuse);
    if (!speed) return refuse ? 0 : -1;
    k->taken++;
    Rank rk = {d->sidechain, m->inp + m->out + m->create + m->read, ts};
    PyObject *key = text(&m->id);
    if (!key) goto fail_speed;
    PyObject *old = PyDict_GetItemWithError(k->merged, key);
    if (!old && PyErr_Occurred()) goto fail_key;
    if (old) {
        Rank ro;
        if (rank_of(old, &ro) < 0) goto fail_key;
        if (!outranks(&rk, &ro)) { /* it cannot stand for the key: only its speed counts */
            int rc = faster(old, speed);
            Py_DECREF(key);
            Py_DECREF(speed);
            return rc < 0 ? -1 : 1;
        }
    }
    int64_t one_hour = m->has_cc ? m->one_hour : 0;
    PyObject *legacy =
        d->cost && cost >= 0 && cost <= k->max_cost ? PyFloat_FromDouble(cost) : Py_NewRef(Py_None);
    PyObject *entry = Py_BuildValue(
        "[ONLNLLLLLiLNNNONO]", k->agent, key, (long long)ts, same(k, &m->model), (long long)m->inp,
        (long long)m->out, (long long)m->create,
        (long long)(one_hour < m->create ? one_hour : m->create), (long long)m->read, 0,
        (long long)rk.total, same(k, &l->session), same(k, &l->cwd), legacy,
        d->sidechain ? Py_True : Py_False, speed, Py_False);
    /* Py_BuildValue took key and speed (N); key is still needed for the dict */
    if (!entry) return -1;
    int rc = fold_entry(k->merged, PyList_GET_ITEM(entry, E_KEY), entry, &rk);
    Py_DECREF(entry);
    return rc < 0 ? -1 : 1;
fail_key:
    Py_DECREF(key);
fail_speed:
    Py_DECREF(speed);
    return -1;
}

static int fold_other(Sink *k, cur_t s, cur_t e) {
    PyObject *raw = PyBytes_FromStringAndSize((const char *)s, e - s);
    if (!raw) return -1;
    PyObject *got = PyObject_CallOneArg(k->call, raw);
    Py_DECREF(raw);
    Py_XDECREF(got);
    return got ? 0 : -1;
}

static PyObject *fold_lines(PyObject *self, PyObject *args) {
    Py_buffer buf, needle;
    Py_ssize_t start, end;
    Sink k = {fold_usual, fold_other};
    long long max_tokens, ts_min, ts_max;
    if (!PyArg_ParseTuple(args, "y*nny*LLLO!O!OUdn", &buf, &start, &end, &needle, &max_tokens,
                          &ts_min, &ts_max, &PyDict_Type, &k.merged, &PyDict_Type, &k.memo,
                          &k.call, &k.agent, &k.max_cost, &k.max_speed))
        return NULL;
    k.max_tokens = max_tokens, k.ts_min = ts_min, k.ts_max = ts_max;
    int rc = scan(&k, &buf, start, end, &needle);
    PyBuffer_Release(&buf);
    PyBuffer_Release(&needle);
    return rc < 0 ? NULL : PyLong_FromSsize_t(k.taken);
}

static PyMethodDef methods[] = {
    {"lines", lines, METH_VARARGS,
     "lines(buf, start, end, needle, max_tokens, ts_min_ms, ts_max_ms) -> list"},
    {"fold_lines", fold_lines, METH_VARARGS,
     "fold_lines(buf, start, end, needle, max_tokens, ts_min_ms, ts_max_ms, merged, memo, "
     "other, agent, max_cost_usd, max_speed_chars) -> events taken"},
    {"fold", fold, METH_VARARGS, "fold(merged, entry) -> None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_lines", NULL, -1, methods};

PyMODINIT_FUNC PyInit__lines(void) { return PyModule_Create(&module); }
