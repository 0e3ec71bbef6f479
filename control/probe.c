/* probe.c -- one health check as a non-blocking state machine: connect,
 * TLS handshake (OpenSSL), then the protocol's dialog or request; or a
 * spawned command watched through a pidfd. No scheduling here: the health
 * module polls probe_fd() and owns the deadlines. */
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wire.h"

extern char **environ;

#define PROBE_IN 8192

static const uint16_t default_port[MON_TYPES] = {
	[MON_HTTP] = 80,   [MON_HTTPS] = 443, [MON_POP3] = 110, [MON_POP3S] = 995,
	[MON_IMAP] = 143,  [MON_IMAPS] = 993, [MON_SMTP] = 25,  [MON_DNS] = 53,
};

enum step { ST_CONNECT, ST_TLS, ST_DIALOG };

struct probe {
	const struct monitor *mon;
	const struct member *m;
	const char *pool;
	SSL_CTX *tls;
	int fd;       /* socket, or pidfd for exec */
	pid_t pid;
	SSL *ssl;
	enum step step;
	int phase;    /* protocol dialog position */
	bool want_write;
	uint16_t dns_id;
	size_t inlen, outlen, outoff;
	char out[1024];
	char in[PROBE_IN];
};

/* A query ID nobody on the path can guess. */
static uint32_t rnd(uint32_t n)
{
	uint32_t r = 0;

	if (n == 0 || getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		return 0;
	return r % n;
}

uint16_t probe_port(const struct monitor *mon)
{
	return mon->port ? mon->port : default_port[mon->type];
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

/* One complete line from a line protocol. Returns PROBE_MORE, PROBE_OK or PROBE_FAIL
 * (reason set). */
static int dialog_line(struct probe *pr, char *line, char *reason)
{
	const struct monitor *mon = pr->mon;
	char u[200], p[200];

	switch (mon->type) {
	case MON_POP3:
	case MON_POP3S:
		if (strncmp(line, "+OK", 3) != 0) {
			said(reason, PROBE_REASON_LEN,
			     pr->phase == 0 ? "pop3 greeting" : pr->phase == 1 ? "pop3 USER rejected"
									       : "pop3 PASS rejected",
			     line);
			return PROBE_FAIL;
		}
		if (pr->phase == 0 && mon->user) {
			queue(pr, "USER %s\r\n", mon->user);
		} else if (pr->phase == 1) {
			queue(pr, "PASS %s\r\n", mon->password);
		} else {
			queue(pr, "QUIT\r\n");
			snprintf(reason, PROBE_REASON_LEN, mon->user ? "pop3 login ok" : "pop3 +OK");
			return PROBE_OK;
		}
		pr->phase++;
		return PROBE_MORE;
	case MON_IMAP:
	case MON_IMAPS:
		if (pr->phase == 0) {
			if (strncmp(line, "* OK", 4) != 0) {
				said(reason, PROBE_REASON_LEN, "imap greeting", line);
				return PROBE_FAIL;
			}
			if (!mon->user) {
				queue(pr, "c1 LOGOUT\r\n");
				snprintf(reason, PROBE_REASON_LEN, "imap * OK");
				return PROBE_OK;
			}
			imap_quote(mon->user, u, sizeof(u));
			imap_quote(mon->password, p, sizeof(p));
			queue(pr, "c1 LOGIN %s %s\r\n", u, p);
			pr->phase = 1;
			return PROBE_MORE;
		}
		if (line[0] == '*')
			return PROBE_MORE; /* untagged: capabilities and the like */
		if (strncmp(line, "c1 OK", 5) != 0) {
			said(reason, PROBE_REASON_LEN, "imap LOGIN rejected", line);
			return PROBE_FAIL;
		}
		queue(pr, "c2 LOGOUT\r\n");
		snprintf(reason, PROBE_REASON_LEN, "imap login ok");
		return PROBE_OK;
	case MON_SMTP: {
		const char *want = pr->phase == 0 ? "220" : "250";

		if (strncmp(line, want, 3) != 0) {
			said(reason, PROBE_REASON_LEN, pr->phase == 0 ? "smtp greeting" : "smtp EHLO", line);
			return PROBE_FAIL;
		}
		if (line[3] == '-')
			return PROBE_MORE; /* RFC 5321 4.2.1: a multiline reply goes on */
		if (pr->phase == 0) {
			queue(pr, "EHLO carousel.invalid\r\n");
			pr->phase = 1;
			return PROBE_MORE;
		}
		queue(pr, "QUIT\r\n");
		snprintf(reason, PROBE_REASON_LEN, "smtp 220, EHLO 250");
		return PROBE_OK;
	}
	default:
		return PROBE_MORE;
	}
}

/* HTTP: the whole response is in (the server closed, or the buffer is
 * full). */
static int http_verdict(struct probe *pr, char *reason)
{
	const struct monitor *mon = pr->mon;
	unsigned status = 0;

	pr->in[pr->inlen] = '\0';
	if (sscanf(pr->in, "HTTP/%*u.%*u %u", &status) != 1) {
		said(reason, PROBE_REASON_LEN, "http: not an HTTP response", pr->in);
		return PROBE_FAIL;
	}
	if (status != mon->expect) {
		snprintf(reason, PROBE_REASON_LEN, "http status %u, expected %u", status, mon->expect);
		return PROBE_FAIL;
	}
	if (mon->body) {
		const char *body = strstr(pr->in, "\r\n\r\n");

		if (!body || !strstr(body + 4, mon->body)) {
			snprintf(reason, PROBE_REASON_LEN, "http %u without \"%.40s\" in the body", status,
				 mon->body);
			return PROBE_FAIL;
		}
	}
	snprintf(reason, PROBE_REASON_LEN, "http %u", status);
	return PROBE_OK;
}

/* Enough of the response is in: the status line when only the status
 * counts, the expected substring when the body does too. */
static bool http_decided(struct probe *pr)
{
	const struct monitor *mon = pr->mon;
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
		return PROBE_MORE; /* not our answer: keep waiting */
	unsigned rcode = r[3] & 0x0f;

	if (rcode != RCODE_NOERROR) {
		snprintf(reason, PROBE_REASON_LEN, "dns rcode %s",
			 rcode < 6 ? rcodes[rcode] : "other");
		return PROBE_FAIL;
	}
	if (wire_read16(r + 6) == 0) {
		snprintf(reason, PROBE_REASON_LEN, "dns NOERROR without an answer");
		return PROBE_FAIL;
	}
	snprintf(reason, PROBE_REASON_LEN, "dns NOERROR, %u answers", wire_read16(r + 6));
	return PROBE_OK;
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
	const struct monitor *mon = pr->mon;

	pr->step = ST_DIALOG;
	pr->phase = 0;
	switch (mon->type) {
	case MON_TCP:
		snprintf(reason, PROBE_REASON_LEN, "tcp connect ok");
		return PROBE_OK;
	case MON_HTTP:
	case MON_HTTPS: {
		/* RFC 7230 5.4: an IPv6 literal in Host is bracketed */
		bool v6 = !mon->host && pr->m->family == AF_INET6;

		queue(pr,
		      "GET %s HTTP/1.0\r\nHost: %s%s%s\r\nUser-Agent: carousel-health/%s\r\n"
		      "Connection: close\r\n\r\n",
		      mon->path, v6 ? "[" : "", mon->host ? mon->host : pr->m->text,
		      v6 ? "]" : "", CAROUSEL_VERSION);
		return PROBE_MORE;
	}
	default:
		return PROBE_MORE; /* the server speaks first */
	}
}

/* Drive a probe as far as it goes without blocking. */
static int probe_step(struct probe *pr, char *reason)
{
	const struct monitor *mon = pr->mon;
	int rc;

	if (pr->step == ST_CONNECT) {
		int err = 0;
		socklen_t l = sizeof(err);

		getsockopt(pr->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			snprintf(reason, PROBE_REASON_LEN, "connect: %s", strerror(err));
			return PROBE_FAIL;
		}
		if (monitor_uses_tls(mon->type)) {
			pr->ssl = SSL_new(pr->tls);
			if (!pr->ssl) {
				snprintf(reason, PROBE_REASON_LEN, "tls: out of memory");
				return PROBE_FAIL;
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
					X509_VERIFY_PARAM_set1_ip_asc(vp, pr->m->text);
			}
			pr->step = ST_TLS;
		} else {
			rc = dialog_start(pr, reason);
			if (rc != PROBE_MORE)
				return rc;
		}
	}
	if (pr->step == ST_TLS) {
		int k = SSL_connect(pr->ssl);

		if (k <= 0) {
			int e = SSL_get_error(pr->ssl, k);

			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				pr->want_write = e == SSL_ERROR_WANT_WRITE;
				return PROBE_MORE;
			}
			long vr = SSL_get_verify_result(pr->ssl);

			if (vr != X509_V_OK)
				snprintf(reason, PROBE_REASON_LEN, "tls: certificate not trusted: %s",
					 X509_verify_cert_error_string(vr));
			else
				snprintf(reason, PROBE_REASON_LEN, "tls handshake failed: %s",
					 ERR_reason_error_string(ERR_peek_last_error())
						 ? ERR_reason_error_string(ERR_peek_last_error())
						 : "connection closed");
			ERR_clear_error();
			return PROBE_FAIL;
		}
		rc = dialog_start(pr, reason);
		if (rc != PROBE_MORE)
			return rc;
	}
	for (;;) {
		pr->want_write = false;
		while (pr->outoff < pr->outlen) {
			ssize_t k = io_write(pr, pr->out + pr->outoff, pr->outlen - pr->outoff);

			if (k < 0 && errno == EAGAIN) {
				if (!pr->ssl)
					pr->want_write = true;
				return PROBE_MORE;
			}
			if (k <= 0) {
				snprintf(reason, PROBE_REASON_LEN, "send: %s", strerror(errno));
				return PROBE_FAIL;
			}
			pr->outoff += (size_t)k;
		}
		ssize_t k = io_read(pr, pr->in + pr->inlen, sizeof(pr->in) - 1 - pr->inlen);

		if (k < 0 && errno == EAGAIN)
			return PROBE_MORE;
		if (k < 0) {
			snprintf(reason, PROBE_REASON_LEN, "receive: %s", strerror(errno));
			return PROBE_FAIL;
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
			if (rc != PROBE_MORE)
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
			if (rc == PROBE_OK) {
				/* say goodbye if it goes out at once; the verdict stands */
				if (pr->outlen)
					io_write(pr, pr->out, pr->outlen);
				return PROBE_OK;
			}
			if (rc == PROBE_FAIL)
				return PROBE_FAIL;
		}
		if (k == 0) {
			snprintf(reason, PROBE_REASON_LEN, "%s: connection closed",
				 monitor_type_names[mon->type]);
			return PROBE_FAIL;
		}
		if (pr->inlen == sizeof(pr->in) - 1) {
			snprintf(reason, PROBE_REASON_LEN, "%s: line too long",
				 monitor_type_names[mon->type]);
			return PROBE_FAIL;
		}
	}
}

static int start_exec(struct probe *pr, char *reason)
{
		char pool[300], addr[80], port[32];
	char *argv[] = {"/bin/sh", "-c", (char *)pr->mon->command, NULL};
	char *env[64];
	unsigned n = 0;
	posix_spawnattr_t at;
	posix_spawn_file_actions_t fa;
	sigset_t none, dfl;

	snprintf(pool, sizeof(pool), "CAROUSEL_POOL=%s", pr->pool);
	snprintf(addr, sizeof(addr), "CAROUSEL_ADDRESS=%s", pr->m->text);
	snprintf(port, sizeof(port), "CAROUSEL_PORT=%u", pr->mon->port);
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
		snprintf(reason, PROBE_REASON_LEN, "exec: %s", strerror(e));
		return PROBE_FAIL;
	}
	pr->fd = (int)syscall(SYS_pidfd_open, pr->pid, 0);
	if (pr->fd < 0) {
		snprintf(reason, PROBE_REASON_LEN, "exec: pidfd_open: %s", strerror(errno));
		return PROBE_FAIL;
	}
	return PROBE_MORE;
}

static int exec_verdict(struct probe *pr, char *reason)
{
	int status;
	pid_t r = waitpid(pr->pid, &status, WNOHANG);

	if (r == 0)
		return PROBE_MORE;
	pr->pid = 0;
	if (r < 0) {
		snprintf(reason, PROBE_REASON_LEN, "exec: waitpid: %s", strerror(errno));
		return PROBE_FAIL;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		snprintf(reason, PROBE_REASON_LEN, "exec: exit 0");
		return PROBE_OK;
	}
	if (WIFEXITED(status))
		snprintf(reason, PROBE_REASON_LEN, "exec: exit %d", WEXITSTATUS(status));
	else
		snprintf(reason, PROBE_REASON_LEN, "exec: killed by signal %d", WTERMSIG(status));
	return PROBE_FAIL;
}

static int start_socket(struct probe *pr, char *reason)
{
	const struct member *m = pr->m;
	const struct monitor *mon = pr->mon;
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	bool dns = mon->type == MON_DNS;

	if (m->family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(probe_port(mon));
		memcpy(&s->sin_addr, m->addr, 4);
		sl = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(probe_port(mon));
		memcpy(&s->sin6_addr, m->addr, 16);
		sl = sizeof(*s);
	}
	pr->fd = socket(m->family, (dns ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (pr->fd < 0) {
		snprintf(reason, PROBE_REASON_LEN, "socket: %s", strerror(errno));
		return PROBE_FAIL;
	}
	if (connect(pr->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		snprintf(reason, PROBE_REASON_LEN, "connect: %s", strerror(errno));
		return PROBE_FAIL;
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
	}
	pr->want_write = true; /* writable: connected, or the query can go */
	return PROBE_MORE;
}

struct probe *probe_start(const struct monitor *mon, const struct member *m, const char *pool,
			  SSL_CTX *tls, char *reason, int *result)
{
	struct probe *pr = calloc(1, sizeof(*pr));

	if (!pr)
		abort();
	pr->mon = mon;
	pr->m = m;
	pr->pool = pool;
	pr->tls = tls;
	pr->fd = -1;
	*result = mon->type == MON_EXEC ? start_exec(pr, reason) : start_socket(pr, reason);
	return pr;
}

int probe_fd(const struct probe *pr)
{
	return pr->fd;
}

uint32_t probe_events(const struct probe *pr)
{
	return pr->want_write ? EPOLLOUT : EPOLLIN;
}

int probe_run(struct probe *pr, char *reason)
{
	return pr->mon->type == MON_EXEC ? exec_verdict(pr, reason) : probe_step(pr, reason);
}

void probe_free(struct probe *pr)
{
	if (!pr)
		return;
	if (pr->ssl) {
		SSL_free(pr->ssl);
		ERR_clear_error(); /* SSL_get_error needs an empty queue next time */
	}
	if (pr->fd >= 0)
		close(pr->fd);
	if (pr->pid > 0) {
		kill(pr->pid, SIGKILL);
		waitpid(pr->pid, NULL, 0);
	}
	free(pr);
}
