/* ctl.c -- control socket server: status, reload, stats. */
#include "ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dnstap.h"
#include "log.h"
#include "wire.h"
#include "xfr.h"

int ctl_open(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char dir[sizeof(sun.sun_path)];
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');

	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0750); /* e.g. /run/carousel; fine if it exists */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	/* A stale socket from a killed daemon would block bind: replace it,
	 * but only if nobody answers on it. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		close(fd);
		errno = EADDRINUSE;
		return -1;
	}
	unlink(path);
	mode_t old = umask(0117);

	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 16) < 0) {
		int e = errno;

		umask(old);
		close(fd);
		errno = e;
		return -1;
	}
	umask(old);
	return fd;
}

struct out {
	char buf[16384];
	size_t len;
};

__attribute__((format(printf, 2, 3))) static void say(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->len >= sizeof(o->buf))
		return;
	va_start(ap, fmt);
	int k = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);

	va_end(ap);
	if (k > 0)
		o->len += (size_t)k;
	if (o->len > sizeof(o->buf))
		o->len = sizeof(o->buf);
}

static void extra(struct out *o, size_t (*fn)(char *, size_t))
{
	if (fn && o->len < sizeof(o->buf))
		o->len += fn(o->buf + o->len, sizeof(o->buf) - o->len);
}

static void cmd_status(struct server *srv, struct out *o)
{
	const struct config *cfg = atomic_load(&srv->cfg); /* only this thread frees configs */
	unsigned records = 0;

	for (unsigned i = 0; i < cfg->nzones; i++)
		records += cfg->zones[i]->records;
	say(o, "ok\nversion %s\nuptime %lds\nconfig %s\nworkers %u\n", CAROUSEL_VERSION,
	    (long)(time(NULL) - srv->started), cfg->path, srv->nworkers);
	for (unsigned i = 0; i < cfg->nlisten; i++)
		say(o, "listen %s udp,tcp\n", cfg->listen[i].text);
	say(o, "zones %u\nrecords %u\npools %u\nbackends %u\nconfig-memory %zu\n", cfg->nzones,
	    records, cfg->npools, cfg->nbackends, cfg->arena.used);
	say(o, "reloads-ok %llu\nreloads-failed %llu\n", (unsigned long long)srv->reloads_ok,
	    (unsigned long long)srv->reloads_failed);
	if (srv->last_error[0])
		say(o, "last-reload-error %s\n", srv->last_error);
}

static void cmd_stats(struct server *srv, struct out *o)
{
	struct stats t = {0};

	server_stats_total(srv, &t);
	say(o, "ok\n");
	say(o, "queries.udp %llu\nqueries.tcp %llu\n", (unsigned long long)t.udp,
	    (unsigned long long)t.tcp);
	for (unsigned k = 0; k < STATS_RCODES; k++)
		if (t.rcode[k] || k <= 5)
			say(o, "rcode.%s %llu\n", stats_rcode_names[k], (unsigned long long)t.rcode[k]);
	for (unsigned k = 0; k < QT_COUNT; k++)
		say(o, "qtype.%s %llu\n", stats_qtype_names[k], (unsigned long long)t.qtype[k]);
	say(o, "dropped %llu\ntruncated %llu\n", (unsigned long long)t.dropped,
	    (unsigned long long)t.truncated);
	say(o, "tcp.accepted %llu\ntcp.refused %llu\ntcp.idle-closed %llu\n",
	    (unsigned long long)t.tcp_accepted, (unsigned long long)t.tcp_refused,
	    (unsigned long long)t.tcp_timeouts);
	if (srv->rrl)
		say(o, "rrl.slipped %llu\nrrl.dropped %llu\n",
		    (unsigned long long)atomic_load(&srv->rrl->slipped),
		    (unsigned long long)atomic_load(&srv->rrl->dropped));
	if (srv->dnstap && o->len < sizeof(o->buf))
		o->len += dnstap_stats(srv->dnstap, o->buf + o->len, sizeof(o->buf) - o->len);
	if (srv->xfr && o->len < sizeof(o->buf))
		o->len += xfr_stats(srv->xfr, o->buf + o->len, sizeof(o->buf) - o->len);
}

static void send_all(int fd, const char *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t k = send(fd, buf + off, len - off, MSG_NOSIGNAL);

		if (k <= 0)
			break;
		off += (size_t)k;
	}
}

void ctl_serve(int listen_fd, struct server *srv, const struct ctl_ops *ops)
{
	struct timeval tv = {1, 0};
	char cmd[256];
	struct out *o;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	/* A client that connects and says nothing must not hold the daemon. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	n = recv(fd, cmd, sizeof(cmd) - 1, 0);
	if (n <= 0) {
		close(fd);
		return;
	}
	cmd[n] = '\0';
	cmd[strcspn(cmd, "\r\n")] = '\0';
	o = calloc(1, sizeof(*o));
	if (!o)
		abort();
	if (strcmp(cmd, "status") == 0) {
		cmd_status(srv, o);
		extra(o, ops->status_extra);
	} else if (strcmp(cmd, "stats") == 0) {
		cmd_stats(srv, o);
		extra(o, ops->stats_extra);
	} else if (strncmp(cmd, "top", 3) == 0 && (cmd[3] == '\0' || cmd[3] == ' ')) {
		unsigned long limit = cmd[3] ? strtoul(cmd + 4, NULL, 10) : 10;

		say(o, "ok\n");
		o->len += server_top_names(srv, limit && limit <= 100 ? (unsigned)limit : 10,
					   o->buf + o->len,
					   sizeof(o->buf) - o->len);
	} else if (strcmp(cmd, "reload") == 0) {
		char err[CFG_ERR_LEN];

		if (ops->reload(srv, err, sizeof(err)) == 0)
			say(o, "ok\nreloaded\n");
		else
			say(o, "error: %s\n", err);
	} else {
		/* a module's answer (`pools` of a big config runs to megabytes):
		 * sent from its own buffer, not copied. One buffer for the
		 * process (only the main thread serves the socket): a malloc and
		 * free of 32 MiB per command cost the main loop, which also runs
		 * the health checks, a page fault per page touched every time
		 * (and with MALLOC_PERTURB_ a fill of all of it) */
		static char *tmp;
		size_t cap = CTL_REPLY_MAX, n;
		bool ok = true;

		if (!tmp && !(tmp = malloc(cap)))
			abort();
		memcpy(tmp, "ok\n", 3);
		n = ops->command ? ops->command(cmd, tmp + 3, cap - 3, &ok) : (size_t)-1;
		if (n == (size_t)-1)
			say(o, "error: unknown command '%.64s' (try status, stats, top, reload, pools, "
			       "drain, undrain, cache, backends, zones, refresh, anycast)\n",
			    cmd);
		else
			send_all(fd, ok ? tmp : tmp + 3, ok ? n + 3 : n);
	}
	send_all(fd, o->buf, o->len);
	free(o);
	close(fd);
}
