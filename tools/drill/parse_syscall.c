/*
 * A system call line:
 *
 *   +0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0
 *   +0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
 *
 * The arguments are parsed as packetdrill's expressions (numbers, names,
 * A|B, [lists], {braces}, name=value, f(args), "strings", ...), then each
 * call checks its own arguments and keeps only what it acts on. A call or
 * option the runner does not execute is "unsupported", not a syntax error.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "parser.h"
#include "symbols.h"

#define MAX_NODES 256
#define MAX_DEPTH 16
#define MAX_IO_BYTES (1u << 30)

enum ex_kind { EX_ELLIPSIS, EX_INT, EX_WORD, EX_STRING, EX_LIST, EX_BRACE, EX_OR, EX_ASSIGN, EX_CALL };

struct ex {
	enum ex_kind kind;
	const struct drill_token *tok;  /* where it starts: its line, its text */
	int64_t num;
	struct ex *kids;                /* LIST, BRACE, CALL: the items; OR, ASSIGN: lhs then rhs */
	struct ex *next;
	size_t n_kids;
};

struct exprs {
	struct parser *p;
	struct ex pool[MAX_NODES];
	size_t n;
	int depth;
};

static struct ex *ex_new(struct exprs *e, enum ex_kind kind, const struct drill_token *t)
{
	if (e->n == MAX_NODES) {
		drill_error_set(e->p->err, t->line, "system call arguments too complex (more than %d parts)", MAX_NODES);
		return NULL;
	}
	struct ex *x = &e->pool[e->n++];
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	x->tok = t;
	return x;
}

static struct ex *ex_parse(struct exprs *e);

/* Items up to `close`, separated by commas, as the children of `parent`. */
static int ex_items(struct exprs *e, struct ex *parent, char close)
{
	struct ex **tail = &parent->kids;
	if (parser_accept(e->p, close))
		return 0;
	do {
		struct ex *x = ex_parse(e);
		if (!x)
			return -1;
		*tail = x;
		tail = &x->next;
		parent->n_kids++;
	} while (parser_accept(e->p, ','));
	return parser_expect(e->p, close, "or ',' in the argument list");
}

static struct ex *ex_pair(struct exprs *e, enum ex_kind kind, struct ex *lhs, struct ex *rhs)
{
	struct ex *x = ex_new(e, kind, lhs->tok);
	if (!x)
		return NULL;
	x->kids = lhs;
	lhs->next = rhs;
	x->n_kids = 2;
	return x;
}

static struct ex *ex_word(struct exprs *e, const struct drill_token *t)
{
	struct ex *x = ex_new(e, EX_WORD, t);
	if (!x)
		return NULL;
	if (parser_accept(e->p, '(')) {
		x->kind = EX_CALL;
		if (ex_items(e, x, ')'))
			return NULL;
	}
	if (!parser_accept(e->p, '='))
		return x;
	struct ex *rhs = ex_parse(e);
	return rhs ? ex_pair(e, EX_ASSIGN, x, rhs) : NULL;
}

static struct ex *ex_term(struct exprs *e)
{
	const struct drill_token *t = parser_next(e->p);
	struct ex *x;
	switch (t->kind) {
	case TOK_ELLIPSIS:
		return ex_new(e, EX_ELLIPSIS, t);
	case TOK_INT:
		x = ex_new(e, EX_INT, t);
		if (x)
			x->num = t->num;
		return x;
	case TOK_STRING:
		/* "a" "b" concatenates; "a"... is a prefix: the runner reads neither. */
		while (parser_peek(e->p, 0)->kind == TOK_STRING || parser_peek(e->p, 0)->kind == TOK_ELLIPSIS)
			parser_next(e->p);
		return ex_new(e, EX_STRING, t);
	case TOK_WORD:
		return ex_word(e, t);
	case TOK_PUNCT:
		if (t->punct == '[' || t->punct == '{') {
			x = ex_new(e, t->punct == '[' ? EX_LIST : EX_BRACE, t);
			return x && !ex_items(e, x, t->punct == '[' ? ']' : '}') ? x : NULL;
		}
		break;
	default:
		break;
	}
	parser_fail_at(e->p, t, "expected an argument");
	return NULL;
}

static struct ex *ex_parse(struct exprs *e)
{
	if (++e->depth > MAX_DEPTH) {
		drill_error_set(e->p->err, parser_peek(e->p, 0)->line, "arguments nested too deeply");
		return NULL;
	}
	struct ex *x = ex_term(e);
	while (x && parser_accept(e->p, '|')) {
		struct ex *rhs = ex_term(e);
		x = rhs ? ex_pair(e, EX_OR, x, rhs) : NULL;
	}
	e->depth--;
	return x;
}

/* ------------------------------------------------------------ evaluation */

struct call_ctx {
	struct parser *p;
	struct drill_syscall *sc;
	int line;
};

static int bad_arg(struct call_ctx *c, const struct ex *x, const char *what)
{
	drill_error_set(c->p->err, x->tok->line, "%s(): %s", c->sc->name, what);
	return -1;
}

static bool is_ellipsis(const struct ex *x)
{
	return x->kind == EX_ELLIPSIS;
}

static bool ex_is_word(const struct ex *x, const char *w)
{
	return x->kind == EX_WORD && tok_is_word(x->tok, w);
}

/* A number, a named constant, or A|B of those. */
static int eval_int(struct call_ctx *c, const struct ex *x, const char *what, int64_t *v)
{
	int64_t a, b;
	switch (x->kind) {
	case EX_INT:
		*v = x->num;
		return 0;
	case EX_WORD:
		if (drill_symbol_value(x->tok->text, x->tok->len, v))
			return 0;
		drill_error_unsupported(c->p->err, x->tok->line, "unsupported: unknown symbol %.*s", (int)x->tok->len,
					x->tok->text);
		return -1;
	case EX_OR:
		if (eval_int(c, x->kids, what, &a) || eval_int(c, x->kids->next, what, &b))
			return -1;
		*v = a | b;
		return 0;
	default: {
		char msg[96];
		snprintf(msg, sizeof(msg), "expected %s (a number or a name)", what);
		return bad_arg(c, x, msg);
	}
	}
}

static int eval_range(struct call_ctx *c, const struct ex *x, const char *what, int64_t lo, int64_t hi, int64_t *v)
{
	if (eval_int(c, x, what, v))
		return -1;
	if (*v < lo || *v > hi) {
		char msg[128];
		snprintf(msg, sizeof(msg), "%s %lld is out of range", what, (long long)*v);
		return bad_arg(c, x, msg);
	}
	return 0;
}

static int eval_fd(struct call_ctx *c, const struct ex *x, int *fd)
{
	int64_t v;
	if (eval_range(c, x, "file descriptor", 0, INT_MAX, &v))
		return -1;
	*fd = (int)v;
	return 0;
}

/* [N] (compared) or ... (not compared). */
static int eval_int_ptr(struct call_ctx *c, const struct ex *x, bool *check, int64_t *v)
{
	if (is_ellipsis(x)) {
		*check = false;
		return 0;
	}
	if (x->kind != EX_LIST || x->n_kids != 1)
		return bad_arg(c, x, "expected [N] or ...");
	*check = true;
	return eval_range(c, x->kids, "value", INT_MIN, INT_MAX, v);
}

/* The field `name` of a {name=value, ...} brace, or NULL. */
static const struct ex *brace_field(const struct ex *brace, const char *name)
{
	for (const struct ex *k = brace->kids; k; k = k->next)
		if (k->kind == EX_ASSIGN && ex_is_word(k->kids, name))
			return k->kids->next;
	return NULL;
}

/* {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.0.2.1")} or ... */
static int eval_sockaddr(struct call_ctx *c, const struct ex *x)
{
	if (is_ellipsis(x))
		return 0;
	const struct ex *fam = x->kind == EX_BRACE ? brace_field(x, "sa_family") : NULL;
	const struct ex *port = x->kind == EX_BRACE ? brace_field(x, "sin_port") : NULL;
	const struct ex *addr = x->kind == EX_BRACE ? brace_field(x, "sin_addr") : NULL;
	if (!fam || !port || !addr || port->kind != EX_CALL || port->n_kids != 1 || !tok_is_word(port->tok, "htons") ||
	    addr->kind != EX_CALL || addr->n_kids != 1 || addr->kids->kind != EX_STRING)
		return bad_arg(c, x, "expected ... or {sa_family=AF_INET, sin_port=htons(N), sin_addr=inet_addr(\"A\")}");
	int64_t family, p;
	if (eval_int(c, fam, "address family", &family) || eval_range(c, port->kids, "port", 0, 65535, &p))
		return -1;
	if (family != DRILL_AF_INET && family != DRILL_AF_INET6)
		return bad_arg(c, fam, "the address family is AF_INET or AF_INET6");
	char text[64];
	const struct drill_token *s = addr->kids->tok;
	snprintf(text, sizeof(text), "%.*s", (int)(s->len < 63 ? s->len : 63), s->text);
	struct drill_syscall *sc = c->sc;
	sc->addr.addr.family = family == DRILL_AF_INET ? TW_AF_INET : TW_AF_INET6;
	if (inet_pton(family == DRILL_AF_INET ? AF_INET : AF_INET6, text, sc->addr.addr.bytes) != 1)
		return bad_arg(c, addr, "invalid address");
	sc->addr.port = (uint16_t)p;
	sc->has_addr = true;
	return 0;
}

/* ------------------------------------------------------------ the calls */

static int check_socket(struct call_ctx *c, struct ex **a, size_t n)
{
	(void)n;
	int64_t domain = DRILL_AF_INET, type, proto = DRILL_IPPROTO_TCP;
	if (!is_ellipsis(a[0]) && eval_int(c, a[0], "domain", &domain))
		return -1;
	if (eval_int(c, a[1], "type", &type) || (!is_ellipsis(a[2]) && eval_int(c, a[2], "protocol", &proto)))
		return -1;
	if (domain != DRILL_AF_INET && domain != DRILL_AF_INET6) {
		drill_error_unsupported(c->p->err, c->line, "unsupported: socket domain %lld", (long long)domain);
		return -1;
	}
	if ((type & ~(int64_t)(DRILL_SOCK_NONBLOCK | 0x80000)) != DRILL_SOCK_STREAM ||
	    (proto != 0 && proto != DRILL_IPPROTO_TCP)) {
		drill_error_unsupported(c->p->err, c->line, "unsupported: sockets other than SOCK_STREAM, IPPROTO_TCP");
		return -1;
	}
	c->sc->flags = (int)(type & DRILL_SOCK_NONBLOCK);
	return 0;
}

static int check_addr_call(struct call_ctx *c, struct ex **a, size_t n)
{
	(void)n;
	int64_t len;
	if (eval_fd(c, a[0], &c->sc->fd) || eval_sockaddr(c, a[1]))
		return -1;
	return is_ellipsis(a[2]) ? 0 : eval_int(c, a[2], "address length", &len);
}

static int check_listen(struct call_ctx *c, struct ex **a, size_t n)
{
	(void)n;
	int64_t v;
	if (eval_fd(c, a[0], &c->sc->fd) || eval_range(c, a[1], "backlog", INT_MIN, INT_MAX, &v))
		return -1;
	c->sc->backlog = (int)v;
	return 0;
}

static int check_accept(struct call_ctx *c, struct ex **a, size_t n)
{
	(void)n;
	/* The peer's address is an output; the runner does not compare it. */
	return eval_fd(c, a[0], &c->sc->fd);
}

static int check_io(struct call_ctx *c, struct ex **a, size_t n)
{
	int64_t v;
	if (eval_fd(c, a[0], &c->sc->fd))
		return -1;
	if (!is_ellipsis(a[1])) {
		drill_error_unsupported(c->p->err, c->line, "unsupported: %s() with buffer contents (write ...)",
					c->sc->name);
		return -1;
	}
	if (eval_range(c, a[2], "length", 0, MAX_IO_BYTES, &v))
		return -1;
	c->sc->len = (uint64_t)v;
	if (n < 4)
		return 0;
	bool sending = c->sc->call == DRILL_SEND;
	int64_t allowed = sending ? DRILL_MSG_DONTWAIT | DRILL_MSG_MORE | 0x4000 /* MSG_NOSIGNAL: no signals here */
				  : DRILL_MSG_DONTWAIT | DRILL_MSG_PEEK;
	if (eval_int(c, a[3], "flags", &v))
		return -1;
	if (v & ~allowed) {
		drill_error_unsupported(c->p->err, c->line, "unsupported: %s() flags %#llx (%s)", c->sc->name,
					(unsigned long long)(v & ~allowed),
					sending ? "MSG_DONTWAIT, MSG_MORE and MSG_NOSIGNAL are" : "MSG_DONTWAIT and MSG_PEEK are");
		return -1;
	}
	c->sc->flags = (int)v;
	return 0;
}


static int check_shutdown(struct call_ctx *c, struct ex **a, size_t n)
{
	(void)n;
	int64_t v;
	if (eval_fd(c, a[0], &c->sc->fd) || eval_range(c, a[1], "how", INT_MIN, INT_MAX, &v))
		return -1;
	c->sc->how = (int)v;
	return 0;
}

static int check_close(struct call_ctx *c, struct ex **a, size_t n)
{
	(void)n;
	return eval_fd(c, a[0], &c->sc->fd);
}

static int check_pollfd(struct call_ctx *c, const struct ex *x, struct drill_pollfd *pfd)
{
	const struct ex *fd = x->kind == EX_BRACE ? brace_field(x, "fd") : NULL;
	const struct ex *ev = x->kind == EX_BRACE ? brace_field(x, "events") : NULL;
	const struct ex *rev = x->kind == EX_BRACE ? brace_field(x, "revents") : NULL;
	int64_t events, revents = 0;
	if (!fd || !ev)
		return bad_arg(c, x, "expected {fd=N, events=E, revents=R}");
	if (eval_fd(c, fd, &pfd->fd) || eval_range(c, ev, "events", 0, 0xffff, &events) ||
	    (rev && eval_range(c, rev, "revents", 0, 0xffff, &revents)))
		return -1;
	pfd->events = (unsigned)events;
	pfd->revents = (unsigned)revents;
	return 0;
}

static int check_poll(struct call_ctx *c, struct ex **a, size_t n)
{
	(void)n;
	int64_t nfds, timeout;
	if (a[0]->kind != EX_LIST)
		return bad_arg(c, a[0], "expected a list of {fd=N, events=E, revents=R}");
	if (a[0]->n_kids > DRILL_MAX_POLLFDS)
		return bad_arg(c, a[0], "too many file descriptors");
	size_t i = 0;
	for (const struct ex *k = a[0]->kids; k; k = k->next)
		if (check_pollfd(c, k, &c->sc->pfds[i++]))
			return -1;
	c->sc->n_pfds = i;
	if (eval_range(c, a[1], "nfds", 0, DRILL_MAX_POLLFDS, &nfds) ||
	    eval_range(c, a[2], "timeout", -1, INT_MAX, &timeout))
		return -1;
	if ((size_t)nfds != i)
		return bad_arg(c, a[1], "nfds differs from the number of file descriptors listed");
	c->sc->timeout_ms = (int)timeout;
	return 0;
}

static int check_fcntl(struct call_ctx *c, struct ex **a, size_t n)
{
	int64_t cmd, v = 0;
	if (eval_fd(c, a[0], &c->sc->fd) || eval_int(c, a[1], "command", &cmd))
		return -1;
	if (cmd != DRILL_F_GETFL && cmd != DRILL_F_SETFL) {
		drill_error_unsupported(c->p->err, c->line, "unsupported: fcntl() commands other than F_GETFL and F_SETFL");
		return -1;
	}
	if ((cmd == DRILL_F_SETFL) != (n == 3))
		return bad_arg(c, a[1], cmd == DRILL_F_SETFL ? "F_SETFL takes a value" : "F_GETFL takes no value");
	if (n == 3 && eval_range(c, a[2], "flags", 0, INT_MAX, &v))
		return -1;
	c->sc->cmd = (int)cmd;
	c->sc->flags = (int)v;
	return 0;
}

static int check_ioctl(struct call_ctx *c, struct ex **a, size_t n)
{
	(void)n;
	int64_t req;
	if (eval_fd(c, a[0], &c->sc->fd) || eval_int(c, a[1], "request", &req))
		return -1;
	if (req != DRILL_SIOCINQ) {
		drill_error_unsupported(c->p->err, c->line, "unsupported: ioctl() requests other than SIOCINQ");
		return -1;
	}
	c->sc->cmd = (int)req;
	return eval_int_ptr(c, a[2], &c->sc->check_out, &c->sc->out_value);
}

/* {onoff=N, linger=N} */
static int eval_linger(struct call_ctx *c, const struct ex *x, bool setting)
{
	const struct ex *onoff = x->kind == EX_BRACE ? brace_field(x, "onoff") : NULL;
	const struct ex *linger = x->kind == EX_BRACE ? brace_field(x, "linger") : NULL;
	int64_t on, secs;
	if (!onoff || !linger)
		return bad_arg(c, x, "expected {onoff=N, linger=N}");
	if (eval_range(c, onoff, "onoff", INT_MIN, INT_MAX, &on) || eval_range(c, linger, "linger", INT_MIN, INT_MAX, &secs))
		return -1;
	if (setting && on && secs) {
		drill_error_unsupported(c->p->err, c->line, "unsupported: SO_LINGER with a linger time (only linger=0)");
		return -1;
	}
	c->sc->value = (int)on;
	c->sc->linger = (int)secs;
	c->sc->check_out = true;
	return 0;
}

static int check_sockopt_name(struct call_ctx *c, struct ex **a)
{
	int64_t level;
	if (eval_fd(c, a[0], &c->sc->fd) || eval_int(c, a[1], "level", &level))
		return -1;
	if (a[2]->kind != EX_WORD)
		return bad_arg(c, a[2], "expected an option name");
	const struct drill_sockopt *o = drill_sockopt_find(a[2]->tok->text, a[2]->tok->len);
	if (!o || !o->supported) {
		drill_error_unsupported(c->p->err, c->line, "unsupported: socket option %.*s", (int)a[2]->tok->len,
					a[2]->tok->text);
		return -1;
	}
	if (o->level != level)
		return bad_arg(c, a[1], "the option belongs to another level (SOL_SOCKET or IPPROTO_TCP)");
	c->sc->level = (int)level;
	c->sc->tw_opt = o->tw_opt;
	c->sc->is_linger = !strcmp(o->name, "SO_LINGER");
	c->sc->is_so_error = !strcmp(o->name, "SO_ERROR");
	return 0;
}

static int check_setsockopt(struct call_ctx *c, struct ex **a, size_t n)
{
	(void)n;
	int64_t v;
	if (check_sockopt_name(c, a))
		return -1;
	if (c->sc->is_so_error)
		return bad_arg(c, a[2], "SO_ERROR cannot be set");
	if (c->sc->is_linger)
		return eval_linger(c, a[3], true);
	const struct ex *val = a[3]->kind == EX_LIST && a[3]->n_kids == 1 ? a[3]->kids : a[3];
	if (eval_range(c, val, "value", INT_MIN, INT_MAX, &v))
		return -1;
	c->sc->value = (int)v;
	return 0;
}

static int check_getsockopt(struct call_ctx *c, struct ex **a, size_t n)
{
	(void)n;
	if (check_sockopt_name(c, a))
		return -1;
	if (c->sc->is_linger && !is_ellipsis(a[3]))
		return eval_linger(c, a[3], false);
	return eval_int_ptr(c, a[3], &c->sc->check_out, &c->sc->out_value);
}

struct call_def {
	const char *name;
	enum drill_call call;
	size_t min_args, max_args;
	int (*check)(struct call_ctx *c, struct ex **a, size_t n);
};

static const struct call_def calls[] = {
	{ "socket", DRILL_SOCKET, 3, 3, check_socket },
	{ "bind", DRILL_BIND, 3, 3, check_addr_call },
	{ "listen", DRILL_LISTEN, 2, 2, check_listen },
	{ "accept", DRILL_ACCEPT, 3, 3, check_accept },
	{ "connect", DRILL_CONNECT, 3, 3, check_addr_call },
	{ "read", DRILL_READ, 3, 3, check_io },
	{ "write", DRILL_WRITE, 3, 3, check_io },
	{ "send", DRILL_SEND, 4, 4, check_io },
	{ "recv", DRILL_RECV, 4, 4, check_io },
	{ "shutdown", DRILL_SHUTDOWN, 2, 2, check_shutdown },
	{ "close", DRILL_CLOSE, 1, 1, check_close },
	{ "poll", DRILL_POLL, 3, 3, check_poll },
	{ "fcntl", DRILL_FCNTL, 2, 3, check_fcntl },
	{ "ioctl", DRILL_IOCTL, 3, 3, check_ioctl },
	{ "setsockopt", DRILL_SETSOCKOPT, 5, 5, check_setsockopt },
	{ "getsockopt", DRILL_GETSOCKOPT, 5, 5, check_getsockopt },
};

static const struct call_def *find_call(const struct drill_token *t)
{
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (tok_is_word(t, calls[i].name))
			return &calls[i];
	return NULL;
}

/* = RESULT [ERRNO] [(note)] */
static int parse_result(struct parser *p, struct exprs *e, struct call_ctx *c)
{
	int line = parser_peek(p, 0)->line;
	if (parser_expect(p, '=', "and the result after the call"))
		return -1;
	struct ex *r = ex_parse(e);
	if (!r || eval_range(c, r, "result", INT_MIN, INT_MAX, &c->sc->ret))
		return -1;
	const struct drill_token *t = parser_peek(p, 0);
	if (t->kind == TOK_WORD && t->line == line) {
		c->sc->err = drill_errno_value(t->text, t->len);
		if (!c->sc->err)
			return parser_fail_at(p, t, "expected an errno name such as ECONNREFUSED");
		if (c->sc->ret != -1)
			return parser_fail_at(p, t, "an errno goes with the result -1");
		parser_next(p);
	}
	if (parser_peek(p, 0)->line == line && parser_accept(p, '(')) {
		/* The note, such as (Connection refused): packetdrill does not compare it either. */
		int depth = 1;
		while (depth > 0) {
			const struct drill_token *n = parser_next(p);
			if (n->kind == TOK_EOF)
				return parser_fail_at(p, n, "expected ')' closing the note");
			depth += tok_is_punct(n, '(') - tok_is_punct(n, ')');
		}
	}
	return 0;
}

int parse_syscall(struct parser *p, struct drill_event *ev)
{
	struct exprs e;
	const struct drill_token *name = parser_next(p);
	const struct call_def *def = find_call(name);
	if (!def) {
		drill_error_unsupported(p->err, name->line, "unsupported: system call %.*s()",
					(int)(name->len < 40 ? name->len : 40), name->text);
		return -1;
	}
	struct drill_syscall *sc = &ev->call;
	sc->call = def->call;
	sc->name = def->name;
	memset(&e, 0, sizeof(e));
	e.p = p;
	struct ex *args = ex_new(&e, EX_LIST, name);
	parser_next(p);   /* ( */
	if (!args || ex_items(&e, args, ')'))
		return -1;
	if (args->n_kids < def->min_args || args->n_kids > def->max_args) {
		drill_error_set(p->err, name->line, "%s() takes %zu argument%s, not %zu", def->name, def->max_args,
				def->max_args == 1 ? "" : "s", args->n_kids);
		return -1;
	}
	struct ex *a[5] = { NULL };
	size_t i = 0;
	for (struct ex *k = args->kids; k && i < 5; k = k->next)
		a[i++] = k;
	struct call_ctx c = { .p = p, .sc = sc, .line = name->line };
	if (def->check(&c, a, args->n_kids))
		return -1;
	if (parse_result(p, &e, &c))
		return -1;
	return parser_end_of_event(p, "unexpected text after the system call");
}
