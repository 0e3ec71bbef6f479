/* health.c -- member monitors on the main thread's event loop: one
 * non-blocking probe per member at a time, each a small state machine
 * (connect, TLS, a line dialog or a request), ending in a verdict. */
#include "health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "entry.h"
#include "log.h"
#include "pool.h"
#include "wire.h"

extern char **environ;

#define REASON_LEN 120
#define PROBE_IN 8192

static const uint16_t default_port[MON_TYPES] = {
	[MON_HTTP] = 80,   [MON_HTTPS] = 443, [MON_POP3] = 110, [MON_POP3S] = 995,
	[MON_IMAP] = 143,  [MON_IMAPS] = 993, [MON_SMTP] = 25,  [MON_DNS] = 53,
};

struct probe;

/* One pool member: its state lives here across reloads. */
struct mstate {
	struct health *h;
	unsigned pool, member; /* indexes in the config in force */
	const struct pool *p;
	const struct member *m;
	const struct monitor *mon; /* NULL: not monitored */
	bool up, drained;
	unsigned streak;      /* verdicts in a row that disagree with `up` */
	uint64_t since_ms;    /* last state change */
	uint64_t next_ms;     /* next probe starts */
	bool checked, last_ok;
	char last[REASON_LEN];
	unsigned latency_us;
	uint64_t checks, failures, changes;
	struct probe *probe;  /* in flight, or NULL */
	uint64_t due_ms;      /* heap key: the probe's deadline, or next_ms */
	unsigned heap_pos;
};

enum step { ST_CONNECT, ST_TLS, ST_DIALOG };

struct probe {
	struct mstate *ms;
	int fd;       /* socket, or pidfd for exec */
	pid_t pid;
	SSL *ssl;
	enum step step;
	int phase;    /* protocol dialog position */
	bool want_write;
	uint64_t start_ms, start_us, deadline_ms;
	uint16_t dns_id;
	size_t inlen, outlen, outoff;
	char out[1024];
	char in[PROBE_IN];
};

struct health {
	struct health_hooks hooks;
	int ep, timer;
	struct config *cfg;
	struct mstate *st;    /* every member of every pool, pool by pool */
	unsigned nst;
	unsigned *first;      /* per pool: its first member in st */
	struct mstate **heap; /* monitored members, soonest due first */
	unsigned nheap;
	uint8_t *dirty;       /* per pool: its view must be rebuilt */
	unsigned *dirty_list, ndirty;
	SSL_CTX *tls;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t now_ms(void)
{
	return now_us() / 1000;
}

static uint32_t rnd(uint32_t n)
{
	uint32_t r = 0;

	if (n == 0 || getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		return 0;
	return r % n;
}

/* The next probe: one interval on, give or take a tenth, so that checks
 * of many members do not fall into step. */
static uint64_t next_start(const struct monitor *mon, uint64_t from)
{
	uint32_t j = mon->interval_ms / 10;

	return from + mon->interval_ms - j + rnd(2 * j + 1);
}

static uint16_t port_of(const struct monitor *mon)
{
	return mon->port ? mon->port : default_port[mon->type];
}

static bool uses_tls(const struct monitor *mon)
{
	return mon->type == MON_HTTPS || mon->type == MON_POP3S || mon->type == MON_IMAPS;
}

/* --- the schedule: a binary min-heap of due times, so a loop over many
 * monitored members costs log n per event, not n --- */

static void heap_place(struct health *h, unsigned i, struct mstate *ms)
{
	h->heap[i] = ms;
	ms->heap_pos = i;
}

static void heap_fix(struct health *h, unsigned i)
{
	struct mstate *ms = h->heap[i];

	while (i > 0 && h->heap[(i - 1) / 2]->due_ms > ms->due_ms) {
		heap_place(h, i, h->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		unsigned c = 2 * i + 1;

		if (c >= h->nheap)
			break;
		if (c + 1 < h->nheap && h->heap[c + 1]->due_ms < h->heap[c]->due_ms)
			c++;
		if (h->heap[c]->due_ms >= ms->due_ms)
			break;
		heap_place(h, i, h->heap[c]);
		i = c;
	}
	heap_place(h, i, ms);
}

/* The member's next event moved: a probe started or ended. */
static void reschedule(struct mstate *ms)
{
	ms->due_ms = ms->probe ? ms->probe->deadline_ms : ms->next_ms;
	heap_fix(ms->h, ms->heap_pos);
}

static void mark_dirty(struct health *h, unsigned pool)
{
	if (!h->dirty[pool]) {
		h->dirty[pool] = 1;
		h->dirty_list[h->ndirty++] = pool;
	}
}

/* --- views --- */

static void publish(struct health *h, unsigned pool)
{
	struct pool *p = &h->cfg->pools[pool];
	bool up[ROT_MAX_MEMBERS], drained[ROT_MAX_MEMBERS];
	unsigned first = h->first[pool];

	for (unsigned i = 0; i < p->nmembers; i++) {
		up[i] = h->st[first + i].up;
		drained[i] = h->st[first + i].drained;
	}
	struct pool_view *v = pool_view_build(p, up, drained);
	struct pool_view *old = atomic_exchange(&p->view, v);

	for (int f = 0; f < 2; f++)
		if (v->all_down[f] && !old->all_down[f])
			log_warn("event=pool-all-down pool=%s family=%s action=%s", p->name_text,
				 f ? "ipv6" : "ipv4",
				 p->on_all_down == ALL_DOWN_SERVFAIL ? "servfail"
				 : p->on_all_down == ALL_DOWN_POOL   ? "fallback-pool"
								     : "serve-all");
		else if (!v->all_down[f] && old->all_down[f])
			log_info("event=pool-recovered pool=%s family=%s", p->name_text,
				 f ? "ipv6" : "ipv4");
	if (h->hooks.synchronize)
		h->hooks.synchronize(h->hooks.arg);
	pool_view_free(old);
	if (h->hooks.changed)
		h->hooks.changed(h->hooks.arg, h->cfg, pool);
}

/* --- probes --- */

static void probe_end(struct probe *pr)
{
	struct health *h = pr->ms->h;

	if (pr->ssl) {
		SSL_free(pr->ssl);
		ERR_clear_error(); /* SSL_get_error needs an empty queue next time */
	}
	if (pr->fd >= 0) {
		epoll_ctl(h->ep, EPOLL_CTL_DEL, pr->fd, NULL);
		close(pr->fd);
	}
	if (pr->pid > 0) {
		kill(pr->pid, SIGKILL);
		waitpid(pr->pid, NULL, 0);
	}
	pr->ms->probe = NULL;
	free(pr);
}

/* The end of one probe: count it, maybe change state. Returns true when
 * the member's state changed. */
static bool verdict(struct probe *pr, bool ok, const char *reason)
{
	struct mstate *ms = pr->ms;
	uint64_t now = now_ms();

	ms->checks++;
	ms->failures += !ok;
	ms->checked = true;
	ms->last_ok = ok;
	ms->latency_us = (unsigned)(now_us() - pr->start_us);
	snprintf(ms->last, sizeof(ms->last), "%s", reason);
	ms->next_ms = next_start(ms->mon, pr->start_ms);
	if (ms->next_ms <= now)
		ms->next_ms = now + 1;
	probe_end(pr);
	reschedule(ms);
	if (ok == ms->up) {
		ms->streak = 0;
		return false;
	}
	if (++ms->streak < (ok ? ms->mon->rise : ms->mon->fall))
		return false;
	ms->up = ok;
	ms->streak = 0;
	ms->changes++;
	log_info("event=health pool=%s member=%s state=%s reason=\"%s\" latency_ms=%.3f "
		 "after=%us checks=%llu",
		 ms->p->name_text, ms->m->text, ok ? "up" : "down", ms->last, ms->latency_us / 1e3,
		 (unsigned)((now - ms->since_ms) / 1000), (unsigned long long)ms->checks);
	ms->since_ms = now;
	return true;
}

static void watch(struct probe *pr, bool add)
{
	struct epoll_event ev = {.events = pr->want_write ? EPOLLOUT : EPOLLIN, .data.ptr = pr};

	epoll_ctl(pr->ms->h->ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, pr->fd, &ev);
}

static void queue(struct probe *pr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void queue(struct probe *pr, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int k = vsnprintf(pr->out, sizeof(pr->out), fmt, ap);

	va_end(ap);
	pr->outlen = k < 0 ? 0 : ((size_t)k < sizeof(pr->out) ? (size_t)k : sizeof(pr->out) - 1);
	pr->outoff = 0;
}

/* IMAP quoted string (RFC 3501 4.3): backslash before " and \. */
static void imap_quote(const char *s, char *out, size_t len)
{
	size_t k = 0;

	out[k++] = '"';
	for (; *s && k + 3 < len; s++) {
		if (*s == '"' || *s == '\\')
			out[k++] = '\\';
		out[k++] = *s;
	}
	out[k++] = '"';
	out[k] = '\0';
}

/* Printable first line of a server reply, for `carouselctl pools`. */
static void said(char *dst, size_t len, const char *what, const char *line)
{
	char clean[64];
	size_t k = 0;

	for (; *line && k + 1 < sizeof(clean); line++)
		clean[k++] = (*line >= 32 && *line < 127 && *line != '"') ? *line : '.';
	clean[k] = '\0';
	snprintf(dst, len, "%s: %s", what, clean);
}

enum { D_MORE, D_OK, D_FAIL };

/* One complete line from a line protocol. Returns D_MORE, D_OK or D_FAIL
 * (reason set). */
static int dialog_line(struct probe *pr, char *line, char *reason)
{
	const struct monitor *mon = pr->ms->mon;
	char u[200], p[200];

	switch (mon->type) {
	case MON_POP3:
	case MON_POP3S:
		if (strncmp(line, "+OK", 3) != 0) {
			said(reason, REASON_LEN,
			     pr->phase == 0 ? "pop3 greeting" : pr->phase == 1 ? "pop3 USER rejected"
									       : "pop3 PASS rejected",
			     line);
			return D_FAIL;
		}
		if (pr->phase == 0 && mon->user) {
			queue(pr, "USER %s\r\n", mon->user);
		} else if (pr->phase == 1) {
			queue(pr, "PASS %s\r\n", mon->password);
		} else {
			queue(pr, "QUIT\r\n");
			snprintf(reason, REASON_LEN, mon->user ? "pop3 login ok" : "pop3 +OK");
			return D_OK;
		}
		pr->phase++;
		return D_MORE;
	case MON_IMAP:
	case MON_IMAPS:
		if (pr->phase == 0) {
			if (strncmp(line, "* OK", 4) != 0) {
				said(reason, REASON_LEN, "imap greeting", line);
				return D_FAIL;
			}
			if (!mon->user) {
				queue(pr, "c1 LOGOUT\r\n");
				snprintf(reason, REASON_LEN, "imap * OK");
				return D_OK;
			}
			imap_quote(mon->user, u, sizeof(u));
			imap_quote(mon->password, p, sizeof(p));
			queue(pr, "c1 LOGIN %s %s\r\n", u, p);
			pr->phase = 1;
			return D_MORE;
		}
		if (line[0] == '*')
			return D_MORE; /* untagged: capabilities and the like */
		if (strncmp(line, "c1 OK", 5) != 0) {
			said(reason, REASON_LEN, "imap LOGIN rejected", line);
			return D_FAIL;
		}
		queue(pr, "c2 LOGOUT\r\n");
		snprintf(reason, REASON_LEN, "imap login ok");
		return D_OK;
	case MON_SMTP: {
		const char *want = pr->phase == 0 ? "220" : "250";

		if (strncmp(line, want, 3) != 0) {
			said(reason, REASON_LEN, pr->phase == 0 ? "smtp greeting" : "smtp EHLO", line);
			return D_FAIL;
		}
		if (line[3] == '-')
			return D_MORE; /* RFC 5321 4.2.1: a multiline reply goes on */
		if (pr->phase == 0) {
			queue(pr, "EHLO carousel.invalid\r\n");
			pr->phase = 1;
			return D_MORE;
		}
		queue(pr, "QUIT\r\n");
		snprintf(reason, REASON_LEN, "smtp 220, EHLO 250");
		return D_OK;
	}
	default:
		return D_MORE;
	}
}

/* HTTP: the whole response is in (the server closed, or the buffer is
 * full). */
static int http_verdict(struct probe *pr, char *reason)
{
	const struct monitor *mon = pr->ms->mon;
	unsigned status = 0;

	pr->in[pr->inlen] = '\0';
	if (sscanf(pr->in, "HTTP/%*u.%*u %u", &status) != 1) {
		said(reason, REASON_LEN, "http: not an HTTP response", pr->in);
		return D_FAIL;
	}
	if (status != mon->expect) {
		snprintf(reason, REASON_LEN, "http status %u, expected %u", status, mon->expect);
		return D_FAIL;
	}
	if (mon->body) {
		const char *body = strstr(pr->in, "\r\n\r\n");

		if (!body || !strstr(body + 4, mon->body)) {
			snprintf(reason, REASON_LEN, "http %u without \"%.40s\" in the body", status,
				 mon->body);
			return D_FAIL;
		}
	}
	snprintf(reason, REASON_LEN, "http %u", status);
	return D_OK;
}

/* Enough of the response is in: the status line when only the status
 * counts, the expected substring when the body does too. */
static bool http_decided(struct probe *pr)
{
	const struct monitor *mon = pr->ms->mon;
	unsigned status = 0;

	pr->in[pr->inlen] = '\0';
	if (!strstr(pr->in, "\r\n"))
		return false;
	if (sscanf(pr->in, "HTTP/%*u.%*u %u", &status) != 1 || status != mon->expect || !mon->body)
		return true;
	const char *body = strstr(pr->in, "\r\n\r\n");

	return body && strstr(body + 4, mon->body);
}

/* DNS: one datagram back. */
static int dns_verdict(struct probe *pr, char *reason)
{
	static const char *const rcodes[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					     "NOTIMP",	"REFUSED"};
	const uint8_t *r = (const uint8_t *)pr->in;

	if (pr->inlen < WIRE_HDR_LEN || wire_read16(r) != pr->dns_id || !(r[2] & 0x80))
		return D_MORE; /* not our answer: keep waiting */
	unsigned rcode = r[3] & 0x0f;

	if (rcode != RCODE_NOERROR) {
		snprintf(reason, REASON_LEN, "dns rcode %s",
			 rcode < 6 ? rcodes[rcode] : "other");
		return D_FAIL;
	}
	if (wire_read16(r + 6) == 0) {
		snprintf(reason, REASON_LEN, "dns NOERROR without an answer");
		return D_FAIL;
	}
	snprintf(reason, REASON_LEN, "dns NOERROR, %u answers", wire_read16(r + 6));
	return D_OK;
}

/* An SSL_read/SSL_write result as recv/send would give it: bytes, 0 at
 * the end (reads), or -1 with errno EAGAIN (and want_write set when TLS
 * must write first) or EPROTO. */
static ssize_t tls_result(struct probe *pr, int k, bool reading)
{
	if (k > 0)
		return k;
	int e = SSL_get_error(pr->ssl, k);

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		pr->want_write = e == SSL_ERROR_WANT_WRITE;
		errno = EAGAIN;
		return -1;
	}
	if (reading && (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL))
		return 0;
	errno = EPROTO;
	return -1;
}

static ssize_t io_read(struct probe *pr, void *buf, size_t len)
{
	if (!pr->ssl)
		return recv(pr->fd, buf, len, 0);
	return tls_result(pr, SSL_read(pr->ssl, buf, (int)len), true);
}

static ssize_t io_write(struct probe *pr, const void *buf, size_t len)
{
	if (!pr->ssl)
		return send(pr->fd, buf, len, MSG_NOSIGNAL);
	return tls_result(pr, SSL_write(pr->ssl, buf, (int)len), false);
}

/* The connection is up (and TLS done): what the protocol says first. */
static int dialog_start(struct probe *pr, char *reason)
{
	const struct monitor *mon = pr->ms->mon;

	pr->step = ST_DIALOG;
	pr->phase = 0;
	switch (mon->type) {
	case MON_TCP:
		snprintf(reason, REASON_LEN, "tcp connect ok");
		return D_OK;
	case MON_HTTP:
	case MON_HTTPS: {
		/* RFC 7230 5.4: an IPv6 literal in Host is bracketed */
		bool v6 = !mon->host && pr->ms->m->family == AF_INET6;

		queue(pr,
		      "GET %s HTTP/1.0\r\nHost: %s%s%s\r\nUser-Agent: carousel-health/%s\r\n"
		      "Connection: close\r\n\r\n",
		      mon->path, v6 ? "[" : "", mon->host ? mon->host : pr->ms->m->text,
		      v6 ? "]" : "", CAROUSEL_VERSION);
		return D_MORE;
	}
	default:
		return D_MORE; /* the server speaks first */
	}
}

/* Drive a probe as far as it goes without blocking. */
static int probe_step(struct probe *pr, char *reason)
{
	const struct monitor *mon = pr->ms->mon;
	int rc;

	if (pr->step == ST_CONNECT) {
		int err = 0;
		socklen_t l = sizeof(err);

		getsockopt(pr->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			snprintf(reason, REASON_LEN, "connect: %s", strerror(err));
			return D_FAIL;
		}
		if (uses_tls(mon)) {
			pr->ssl = SSL_new(pr->ms->h->tls);
			if (!pr->ssl) {
				snprintf(reason, REASON_LEN, "tls: out of memory");
				return D_FAIL;
			}
			SSL_set_fd(pr->ssl, pr->fd);
			if (mon->host)
				SSL_set_tlsext_host_name(pr->ssl, mon->host);
			if (mon->tls_verify) {
				/* the system's CAs, and the name (or address) asked for */
				X509_VERIFY_PARAM *vp = SSL_get0_param(pr->ssl);

				SSL_set_verify(pr->ssl, SSL_VERIFY_PEER, NULL);
				if (mon->host)
					SSL_set1_host(pr->ssl, mon->host);
				else
					X509_VERIFY_PARAM_set1_ip_asc(vp, pr->ms->m->text);
			}
			pr->step = ST_TLS;
		} else {
			rc = dialog_start(pr, reason);
			if (rc != D_MORE)
				return rc;
		}
	}
	if (pr->step == ST_TLS) {
		int k = SSL_connect(pr->ssl);

		if (k <= 0) {
			int e = SSL_get_error(pr->ssl, k);

			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				pr->want_write = e == SSL_ERROR_WANT_WRITE;
				return D_MORE;
			}
			long vr = SSL_get_verify_result(pr->ssl);

			if (vr != X509_V_OK)
				snprintf(reason, REASON_LEN, "tls: certificate not trusted: %s",
					 X509_verify_cert_error_string(vr));
			else
				snprintf(reason, REASON_LEN, "tls handshake failed: %s",
					 ERR_reason_error_string(ERR_peek_last_error())
						 ? ERR_reason_error_string(ERR_peek_last_error())
						 : "connection closed");
			ERR_clear_error();
			return D_FAIL;
		}
		rc = dialog_start(pr, reason);
		if (rc != D_MORE)
			return rc;
	}
	for (;;) {
		pr->want_write = false;
		while (pr->outoff < pr->outlen) {
			ssize_t k = io_write(pr, pr->out + pr->outoff, pr->outlen - pr->outoff);

			if (k < 0 && errno == EAGAIN) {
				if (!pr->ssl)
					pr->want_write = true;
				return D_MORE;
			}
			if (k <= 0) {
				snprintf(reason, REASON_LEN, "send: %s", strerror(errno));
				return D_FAIL;
			}
			pr->outoff += (size_t)k;
		}
		ssize_t k = io_read(pr, pr->in + pr->inlen, sizeof(pr->in) - 1 - pr->inlen);

		if (k < 0 && errno == EAGAIN)
			return D_MORE;
		if (k < 0) {
			snprintf(reason, REASON_LEN, "receive: %s", strerror(errno));
			return D_FAIL;
		}
		pr->inlen += (size_t)k;
		if (mon->type == MON_HTTP || mon->type == MON_HTTPS) {
			/* judge as soon as the answer is known: a server that
			 * keeps the connection open must not turn into a timeout */
			if (k == 0 || pr->inlen == sizeof(pr->in) - 1 || http_decided(pr))
				return http_verdict(pr, reason);
			continue;
		}
		if (mon->type == MON_DNS) {
			rc = dns_verdict(pr, reason);
			pr->inlen = 0;
			if (rc != D_MORE)
				return rc;
			continue;
		}
		/* line protocols: every complete line, in order */
		char *nl;

		while ((nl = memchr(pr->in, '\n', pr->inlen))) {
			size_t used = (size_t)(nl - pr->in) + 1;

			*nl = '\0';
			if (nl > pr->in && nl[-1] == '\r')
				nl[-1] = '\0';
			rc = dialog_line(pr, pr->in, reason);
			memmove(pr->in, pr->in + used, pr->inlen - used);
			pr->inlen -= used;
			if (rc == D_OK) {
				/* say goodbye if it goes out at once; the verdict stands */
				if (pr->outlen)
					io_write(pr, pr->out, pr->outlen);
				return D_OK;
			}
			if (rc == D_FAIL)
				return D_FAIL;
		}
		if (k == 0) {
			snprintf(reason, REASON_LEN, "%s: connection closed",
				 monitor_type_names[mon->type]);
			return D_FAIL;
		}
		if (pr->inlen == sizeof(pr->in) - 1) {
			snprintf(reason, REASON_LEN, "%s: line too long",
				 monitor_type_names[mon->type]);
			return D_FAIL;
		}
	}
}

static int start_exec(struct probe *pr, char *reason)
{
	const struct mstate *ms = pr->ms;
	char pool[300], addr[80], port[32];
	char *argv[] = {"/bin/sh", "-c", (char *)ms->mon->command, NULL};
	char *env[64];
	unsigned n = 0;
	posix_spawnattr_t at;
	posix_spawn_file_actions_t fa;
	sigset_t none, dfl;

	snprintf(pool, sizeof(pool), "CAROUSEL_POOL=%s", ms->p->name_text);
	snprintf(addr, sizeof(addr), "CAROUSEL_ADDRESS=%s", ms->m->text);
	snprintf(port, sizeof(port), "CAROUSEL_PORT=%u", ms->mon->port);
	env[n++] = pool;
	env[n++] = addr;
	env[n++] = port;
	for (char **e = environ; *e && n < 63; e++)
		if (strncmp(*e, "PATH=", 5) == 0 || strncmp(*e, "HOME=", 5) == 0)
			env[n++] = *e;
	env[n] = NULL;
	/* the daemon blocks its signals and ignores SIGPIPE: not the child */
	sigemptyset(&none);
	sigfillset(&dfl);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	int e = posix_spawn(&pr->pid, "/bin/sh", &fa, &at, argv, env);

	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (e) {
		pr->pid = 0;
		snprintf(reason, REASON_LEN, "exec: %s", strerror(e));
		return D_FAIL;
	}
	pr->fd = (int)syscall(SYS_pidfd_open, pr->pid, 0);
	if (pr->fd < 0) {
		snprintf(reason, REASON_LEN, "exec: pidfd_open: %s", strerror(errno));
		return D_FAIL;
	}
	watch(pr, true);
	return D_MORE;
}

static int exec_verdict(struct probe *pr, char *reason)
{
	int status;
	pid_t r = waitpid(pr->pid, &status, WNOHANG);

	if (r == 0)
		return D_MORE;
	pr->pid = 0;
	if (r < 0) {
		snprintf(reason, REASON_LEN, "exec: waitpid: %s", strerror(errno));
		return D_FAIL;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		snprintf(reason, REASON_LEN, "exec: exit 0");
		return D_OK;
	}
	if (WIFEXITED(status))
		snprintf(reason, REASON_LEN, "exec: exit %d", WEXITSTATUS(status));
	else
		snprintf(reason, REASON_LEN, "exec: killed by signal %d", WTERMSIG(status));
	return D_FAIL;
}

static int start_socket(struct probe *pr, char *reason)
{
	const struct member *m = pr->ms->m;
	const struct monitor *mon = pr->ms->mon;
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	bool dns = mon->type == MON_DNS;

	if (m->family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port_of(mon));
		memcpy(&s->sin_addr, m->addr, 4);
		sl = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port_of(mon));
		memcpy(&s->sin6_addr, m->addr, 16);
		sl = sizeof(*s);
	}
	pr->fd = socket(m->family, (dns ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (pr->fd < 0) {
		snprintf(reason, REASON_LEN, "socket: %s", strerror(errno));
		return D_FAIL;
	}
	if (connect(pr->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		snprintf(reason, REASON_LEN, "connect: %s", strerror(errno));
		return D_FAIL;
	}
	if (dns) {
		/* one question, RD clear: the server must know the name itself */
		uint8_t q[WIRE_HDR_LEN + DNAME_MAXLEN + 4] = {0};
		size_t nl = dname_len(mon->qname);

		pr->dns_id = (uint16_t)rnd(65536);
		wire_write16(q, pr->dns_id);
		q[5] = 1;
		memcpy(q + WIRE_HDR_LEN, mon->qname, nl);
		wire_write16(q + WIRE_HDR_LEN + nl, mon->qtype);
		wire_write16(q + WIRE_HDR_LEN + nl + 2, CLASS_IN);
		memcpy(pr->out, q, WIRE_HDR_LEN + nl + 4);
		pr->outlen = WIRE_HDR_LEN + nl + 4;
		pr->step = ST_DIALOG;
	} else {
		pr->want_write = true; /* writable: the connect is done */
	}
	watch(pr, true);
	return D_MORE;
}

static bool probe_start(struct mstate *ms, uint64_t now)
{
	struct probe *pr = calloc(1, sizeof(*pr));
	char reason[REASON_LEN];
	int rc;

	if (!pr)
		abort();
	pr->ms = ms;
	pr->fd = -1;
	pr->start_ms = now;
	pr->start_us = now_us();
	pr->deadline_ms = now + ms->mon->timeout_ms;
	ms->probe = pr;
	rc = ms->mon->type == MON_EXEC ? start_exec(pr, reason) : start_socket(pr, reason);
	if (rc == D_FAIL)
		return verdict(pr, false, reason);
	if (ms->mon->type == MON_DNS && (rc = probe_step(pr, reason)) != D_MORE)
		return verdict(pr, rc == D_OK, reason);
	reschedule(ms);
	return false;
}

/* --- the loop --- */

static void arm(struct health *h)
{
	uint64_t next = h->nheap ? h->heap[0]->due_ms : UINT64_MAX;
	struct itimerspec its = {0};

	if (next != UINT64_MAX) {
		if (next == 0)
			next = 1;
		its.it_value.tv_sec = (time_t)(next / 1000);
		its.it_value.tv_nsec = (long)(next % 1000) * 1000000;
	}
	timerfd_settime(h->timer, TFD_TIMER_ABSTIME, &its, NULL);
}

void health_run(struct health *h)
{
	struct epoll_event evs[64];
	int n;

	while ((n = epoll_wait(h->ep, evs, 64, 0)) > 0) {
		for (int i = 0; i < n; i++) {
			struct probe *pr = evs[i].data.ptr;
			char reason[REASON_LEN];

			if (!pr) {
				uint64_t ticks;

				if (read(h->timer, &ticks, sizeof(ticks)) < 0)
					(void)0; /* spurious: the heap below decides */
				continue;
			}
			struct mstate *ms = pr->ms;
			int rc = ms->mon->type == MON_EXEC ? exec_verdict(pr, reason)
							   : probe_step(pr, reason);

			if (rc == D_MORE)
				watch(pr, false);
			else if (verdict(pr, rc == D_OK, reason))
				mark_dirty(h, ms->pool);
		}
		if (n < 64)
			break;
	}
	uint64_t now = now_ms();

	while (h->nheap && h->heap[0]->due_ms <= now) {
		struct mstate *ms = h->heap[0];
		bool changed;

		if (ms->probe) {
			char reason[REASON_LEN];

			snprintf(reason, sizeof(reason), "timeout after %ums", ms->mon->timeout_ms);
			changed = verdict(ms->probe, false, reason);
		} else {
			changed = probe_start(ms, now);
		}
		if (changed)
			mark_dirty(h, ms->pool);
	}
	for (unsigned i = 0; i < h->ndirty; i++) {
		h->dirty[h->dirty_list[i]] = 0;
		publish(h, h->dirty_list[i]);
	}
	h->ndirty = 0;
	arm(h);
}

struct health *health_create(const struct health_hooks *hooks)
{
	struct health *h = calloc(1, sizeof(*h));

	if (!h)
		abort();
	h->hooks = *hooks;
	h->ep = epoll_create1(EPOLL_CLOEXEC);
	h->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	h->tls = SSL_CTX_new(TLS_client_method());
	if (h->ep < 0 || h->timer < 0 || !h->tls) {
		log_error("event=health-start error=\"%s\"", strerror(errno));
		abort();
	}
	/* a health check asks "does it answer", not "is its certificate
	 * trusted": self-signed replicas are the common case, so verifying
	 * is a monitor's choice (tls-verify), against the system's CAs */
	SSL_CTX_set_verify(h->tls, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_default_verify_paths(h->tls);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	epoll_ctl(h->ep, EPOLL_CTL_ADD, h->timer, &ev);
	return h;
}

int health_fd(const struct health *h)
{
	return h->ep;
}

/* Members of the old generation by (pool name, address): a reload of a
 * big config stays linear. */
struct old_index {
	struct mstate **slot;
	size_t mask;
};

static uint64_t member_key(const struct pool *p, const struct member *m)
{
	uint64_t h = ENTRY_DIGEST_INIT;
	size_t n = dname_len(p->name);

	for (size_t i = 0; i < n; i++)
		h = entry_digest_byte(h, p->name[i]);
	for (size_t i = 0; i < 16; i++)
		h = entry_digest_byte(h, m->addr[i]);
	return entry_digest_byte(h, (uint8_t)m->family);
}

static void old_index_build(struct old_index *ix, struct mstate *old, unsigned nold)
{
	size_t size = 16;

	while (size < 2 * (size_t)nold)
		size *= 2;
	ix->mask = size - 1;
	ix->slot = calloc(size, sizeof(*ix->slot));
	if (!ix->slot)
		abort();
	for (unsigned i = 0; i < nold; i++) {
		size_t k = member_key(old[i].p, old[i].m) & ix->mask;

		while (ix->slot[k])
			k = (k + 1) & ix->mask;
		ix->slot[k] = &old[i];
	}
}

static struct mstate *find_old(const struct old_index *ix, const struct pool *p,
			       const struct member *m)
{
	for (size_t k = member_key(p, m) & ix->mask; ix->slot[k]; k = (k + 1) & ix->mask) {
		const struct mstate *o = ix->slot[k];

		if (o->m->family == m->family && memcmp(o->m->addr, m->addr, 16) == 0 &&
		    dname_equal(o->p->name, p->name))
			return ix->slot[k];
	}
	return NULL;
}

void health_adopt(struct health *h, struct config *cfg)
{
	struct mstate *old = h->st;
	unsigned nold = h->nst, n = 0;
	uint64_t now = now_ms();
	struct old_index ix;

	old_index_build(&ix, old, nold);
	free(h->first);
	free(h->dirty);
	free(h->dirty_list);
	h->first = calloc(cfg->npools ? cfg->npools : 1, sizeof(*h->first));
	h->dirty = calloc(cfg->npools ? cfg->npools : 1, sizeof(*h->dirty));
	h->dirty_list = calloc(cfg->npools ? cfg->npools : 1, sizeof(*h->dirty_list));
	h->ndirty = 0;
	if (!h->first || !h->dirty || !h->dirty_list)
		abort();

	for (unsigned i = 0; i < cfg->npools; i++)
		n += cfg->pools[i].nmembers;
	h->st = calloc(n ? n : 1, sizeof(*h->st));
	if (!h->st)
		abort();
	h->nst = 0;
	for (unsigned i = 0; i < cfg->npools; i++) {
		struct pool *p = &cfg->pools[i];
		bool up[ROT_MAX_MEMBERS], drained[ROT_MAX_MEMBERS];

		h->first[i] = h->nst;
		for (unsigned j = 0; j < p->nmembers; j++) {
			struct mstate *ms = &h->st[h->nst++];
			const struct mstate *o = find_old(&ix, p, &p->members[j]);

			ms->h = h;
			ms->pool = i;
			ms->member = j;
			ms->p = p;
			ms->m = &p->members[j];
			ms->mon = ms->m->monitor;
			ms->up = !ms->mon || ms->mon->initial_up;
			ms->since_ms = now;
			if (o) {
				/* a member that stays keeps its state and history */
				ms->up = !ms->mon || (o->mon ? o->up : ms->up);
				ms->drained = o->drained;
				ms->since_ms = o->since_ms;
				ms->checked = o->checked && ms->mon && o->mon;
				ms->last_ok = o->last_ok;
				ms->latency_us = o->latency_us;
				memcpy(ms->last, o->last, sizeof(ms->last));
				ms->checks = o->checks;
				ms->failures = o->failures;
				ms->changes = o->changes;
			}
			/* first probes soon, spread over up to a second */
			if (ms->mon)
				ms->next_ms = now + rnd(ms->mon->interval_ms < 1000
							? ms->mon->interval_ms : 1000);
			up[j] = ms->up;
			drained[j] = ms->drained;
		}
		/* cfg is not serving yet: its views change without a grace period */
		pool_view_free(atomic_exchange(&p->view, pool_view_build(p, up, drained)));
	}
	for (unsigned i = 0; i < nold; i++)
		if (old[i].probe)
			probe_end(old[i].probe);
	free(ix.slot);
	free(old);
	h->cfg = cfg;
	free(h->heap);
	h->heap = calloc(h->nst ? h->nst : 1, sizeof(*h->heap));
	if (!h->heap)
		abort();
	h->nheap = 0;
	for (unsigned i = 0; i < h->nst; i++) {
		struct mstate *ms = &h->st[i];

		if (!ms->mon)
			continue;
		ms->due_ms = ms->next_ms;
		heap_place(h, h->nheap, ms);
		heap_fix(h, h->nheap++);
	}
	arm(h);
}

void health_destroy(struct health *h)
{
	if (!h)
		return;
	for (unsigned i = 0; i < h->nst; i++)
		if (h->st[i].probe)
			probe_end(h->st[i].probe);
	free(h->st);
	free(h->first);
	free(h->heap);
	free(h->dirty);
	free(h->dirty_list);
	SSL_CTX_free(h->tls);
	close(h->timer);
	close(h->ep);
	free(h);
}

/* --- control --- */

#define SAY(...)                                                                           \
	do {                                                                                \
		if (k < len) {                                                              \
			int w_ = snprintf(buf + k, len - k, __VA_ARGS__);                   \
			k += w_ > 0 ? (size_t)w_ : 0;                                       \
		}                                                                           \
	} while (0)

static const char *method_name(enum rot_method m)
{
	static const char *const names[] = {"round-robin", "weighted", "failover", "topology"};

	return names[m];
}

/* Every pool, or only (when only is not NULL) that one. */
static size_t pools_text(struct health *h, const struct pool *only, char *buf, size_t len)
{
	uint64_t now = now_ms();
	size_t k = 0;

	for (unsigned i = 0; i < h->cfg->npools; i++) {
		const struct pool *p = &h->cfg->pools[i];
		const struct pool_view *v = pool_view_get(p);

		if (only && p != only)
			continue;
		bool all_down = v->all_down[0] || v->all_down[1];

		SAY("pool %s method %s state %s ttl %u serving %u", p->name_text,
		    method_name(p->method), all_down ? "all-down" : v->degraded ? "degraded" : "ok",
		    v->ttl, v->serving[0] + v->serving[1]);
		if (all_down)
			SAY(" on-all-down %s%s", p->on_all_down == ALL_DOWN_SERVFAIL ? "servfail"
						 : p->on_all_down == ALL_DOWN_POOL   ? "pool:"
										     : "serve-all",
			    p->on_all_down == ALL_DOWN_POOL ? p->fallback->name_text : "");
		SAY("\n");
		for (unsigned j = h->first[i]; j < h->first[i] + p->nmembers; j++) {
			const struct mstate *ms = &h->st[j];

			SAY("  member %s state %s drained %s since %llus", ms->m->text,
			    ms->up ? "up" : "down", ms->drained ? "yes" : "no",
			    (unsigned long long)((now - ms->since_ms) / 1000));
			if (!ms->mon) {
				SAY(" monitor none\n");
				continue;
			}
			SAY(" monitor %s/%u checks %llu failures %llu", monitor_type_names[ms->mon->type],
			    port_of(ms->mon), (unsigned long long)ms->checks,
			    (unsigned long long)ms->failures);
			if (ms->checked)
				SAY(" latency %.3fms last %s \"%s\"", ms->latency_us / 1e3,
				    ms->last_ok ? "ok" : "fail", ms->last);
			SAY("\n");
		}
	}
	return k < len ? k : len;
}

static struct mstate *lookup(struct health *h, const char *pool, const char *member,
			     char *buf, size_t len, size_t *k)
{
	uint8_t name[DNAME_MAXLEN];
	struct pool *p;

	if (dname_from_str(pool, name, sizeof(name)) < 0) {
		*k = (size_t)snprintf(buf, len, "error: '%s' is not a pool name\n", pool);
		return NULL;
	}
	dname_lower(name);
	p = config_find_pool(h->cfg, name);
	if (!p) {
		*k = (size_t)snprintf(buf, len, "error: no pool %s\n", pool);
		return NULL;
	}
	uint8_t addr[16] = {0};
	int family = inet_pton(AF_INET, member, addr) == 1    ? AF_INET
		     : inet_pton(AF_INET6, member, addr) == 1 ? AF_INET6
							      : 0;

	for (unsigned i = 0; family && i < h->nst; i++)
		if (h->st[i].p == p && h->st[i].m->family == family &&
		    memcmp(h->st[i].m->addr, addr, 16) == 0)
			return &h->st[i];
	*k = (size_t)snprintf(buf, len, "error: pool %s has no member %s\n", p->name_text, member);
	return NULL;
}

size_t health_ctl(struct health *h, const char *cmd, char *buf, size_t len, bool *ok)
{
	char verb[16], pool[300], member[64], extra;
	size_t k = 0;

	int n = sscanf(cmd, "%15s %299s %63s %c", verb, pool, member, &extra);

	if (n >= 1 && strcmp(verb, "pools") == 0) {
		uint8_t name[DNAME_MAXLEN];
		const struct pool *p = NULL;

		*ok = false;
		if (n > 2)
			return (size_t)snprintf(buf, len, "error: usage: pools [POOL]\n");
		if (n == 2) {
			if (dname_from_str(pool, name, sizeof(name)) < 0)
				return (size_t)snprintf(buf, len, "error: '%s' is not a pool name\n",
							pool);
			dname_lower(name);
			p = config_find_pool(h->cfg, name);
			if (!p)
				return (size_t)snprintf(buf, len, "error: no pool %s\n", pool);
		}
		*ok = true;
		return pools_text(h, p, buf, len);
	}
	bool drain = strcmp(verb, "drain") == 0;

	if (n < 1 || (!drain && strcmp(verb, "undrain") != 0))
		return (size_t)-1;
	*ok = false;
	if (n != 3)
		return (size_t)snprintf(buf, len, "error: usage: %s POOL MEMBER\n", verb);
	struct mstate *ms = lookup(h, pool, member, buf, len, &k);

	if (!ms)
		return k < len ? k : len;
	*ok = true;
	if (ms->drained != drain) {
		ms->drained = drain;
		log_info("event=%s pool=%s member=%s", verb, ms->p->name_text, ms->m->text);
		publish(h, ms->pool);
	}
	SAY("%s %s %s\n", drain ? "drained" : "undrained", ms->p->name_text, ms->m->text);
	return k < len ? k : len;
}

size_t health_metrics(struct health *h, char *buf, size_t len)
{
	size_t k = 0;

	SAY("# HELP carousel_member_up 1 when the member passes its monitor (or has none).\n"
	    "# TYPE carousel_member_up gauge\n");
	for (unsigned i = 0; i < h->nst; i++)
		SAY("carousel_member_up{pool=\"%s\",member=\"%s\"} %d\n", h->st[i].p->name_text,
		    h->st[i].m->text, h->st[i].up);
	SAY("# HELP carousel_member_drained 1 when the member is drained by hand.\n"
	    "# TYPE carousel_member_drained gauge\n");
	for (unsigned i = 0; i < h->nst; i++)
		SAY("carousel_member_drained{pool=\"%s\",member=\"%s\"} %d\n", h->st[i].p->name_text,
		    h->st[i].m->text, h->st[i].drained);
	SAY("# HELP carousel_member_check_latency_seconds Duration of the last check.\n"
	    "# TYPE carousel_member_check_latency_seconds gauge\n");
	for (unsigned i = 0; i < h->nst; i++)
		if (h->st[i].checked)
			SAY("carousel_member_check_latency_seconds{pool=\"%s\",member=\"%s\"} "
			    "%.6f\n",
			    h->st[i].p->name_text, h->st[i].m->text, h->st[i].latency_us / 1e6);
	SAY("# HELP carousel_member_checks_total Checks run.\n"
	    "# TYPE carousel_member_checks_total counter\n");
	for (unsigned i = 0; i < h->nst; i++)
		if (h->st[i].mon)
			SAY("carousel_member_checks_total{pool=\"%s\",member=\"%s\"} %llu\n",
			    h->st[i].p->name_text, h->st[i].m->text,
			    (unsigned long long)h->st[i].checks);
	SAY("# HELP carousel_member_check_failures_total Checks that failed.\n"
	    "# TYPE carousel_member_check_failures_total counter\n");
	for (unsigned i = 0; i < h->nst; i++)
		if (h->st[i].mon)
			SAY("carousel_member_check_failures_total{pool=\"%s\",member=\"%s\"} %llu\n",
			    h->st[i].p->name_text, h->st[i].m->text,
			    (unsigned long long)h->st[i].failures);
	SAY("# HELP carousel_member_state_changes_total Up/down transitions.\n"
	    "# TYPE carousel_member_state_changes_total counter\n");
	for (unsigned i = 0; i < h->nst; i++)
		SAY("carousel_member_state_changes_total{pool=\"%s\",member=\"%s\"} %llu\n",
		    h->st[i].p->name_text, h->st[i].m->text, (unsigned long long)h->st[i].changes);
	SAY("# HELP carousel_pool_serving Members a pool hands out now (both families).\n"
	    "# TYPE carousel_pool_serving gauge\n");
	for (unsigned i = 0; i < h->cfg->npools; i++) {
		const struct pool_view *v = pool_view_get(&h->cfg->pools[i]);

		SAY("carousel_pool_serving{pool=\"%s\"} %u\n", h->cfg->pools[i].name_text,
		    (unsigned)v->serving[0] + v->serving[1]);
	}
	SAY("# HELP carousel_pool_degraded 1 while a member of the pool is down.\n"
	    "# TYPE carousel_pool_degraded gauge\n");
	for (unsigned i = 0; i < h->cfg->npools; i++)
		SAY("carousel_pool_degraded{pool=\"%s\"} %d\n", h->cfg->pools[i].name_text,
		    pool_view_get(&h->cfg->pools[i])->degraded);
	return k < len ? k : len;
}
