/* carouselctl.c -- talk to carouseld's control socket; `top` polls it
 * once a second and draws a live view. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f, "Usage: carouselctl [-s SOCKET] COMMAND [ARGS]\n"
		   "\n"
		   "Commands:\n"
		   "  status             version, uptime, listeners, zones, pools, reloads,\n"
		   "                     the dataplane's ports and lcores\n"
		   "  stats              queries by transport, rcode and qtype; drops; TCP and\n"
		   "                     fast-path counters\n"
		   "  reload             re-read the config; a bad file keeps the old one\n"
		   "  top [COUNT]        a live view, refreshed every second: queries per\n"
		   "                     second by path, errors, the most asked names, pools\n"
		   "                     with members down or drained (COUNT views, then exit;\n"
		   "                     default: until interrupted)\n"
		   "  pools [POOL]       every pool (or one) and its members: state (up/down),\n"
		   "                     drained, time in state, monitor, last check result\n"
		   "                     and latency\n"
		   "  drain POOL MEMBER  hand out no new answers with MEMBER (an address)\n"
		   "  undrain POOL MEMBER  put a drained member back in the rotation\n"
		   "  cache stats        hits, misses, entries, memory, evictions, prefetches\n"
		   "  cache top          the hottest cached names and whether the fast path\n"
		   "                     serves them\n"
		   "  cache flush [NAME] drop cached answers (for NAME, or all)\n"
		   "  backends [GROUP]   every backend group (or one): policy, cache, and per\n"
		   "                     server state, queries, responses, timeouts,\n"
		   "                     outstanding, latency p50/p99, last check\n"
		   "  zones              secondary zones: serial, state, primary, last and next\n"
		   "                     refresh, expiry, transfers\n"
		   "  refresh ZONE       check a secondary zone's primary now\n"
		   "  anycast            anycast prefixes: announced or withdrawn\n"
		   "\n"
		   "Options:\n"
		   "  -s, --socket PATH  control socket (default /run/carousel/ctl.sock)\n"
		   "  -h, --help         this text\n"
		   "\n"
		   "Exit status: 0 ok, 1 the daemon reported an error, 2 usage or no daemon.\n");
}

static int connect_ctl(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* --- top --- */

/* One command's whole reply, without its "ok" line; NULL on an error reply
 * or when the daemon is gone. */
static char *request(const char *path, const char *cmd)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap), line[256];
	int fd = connect_ctl(path);
	int ll = snprintf(line, sizeof(line), "%s\n", cmd); /* one write: one command */

	if (!buf || fd < 0 || write(fd, line, (size_t)ll) != ll) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (;;) {
		if (cap - n < 4096) {
			char *b = realloc(buf, cap *= 2);

			if (!b)
				break;
			buf = b;
		}
		ssize_t k = read(fd, buf + n, cap - n - 1);

		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	buf[n] = '\0';
	if (strncmp(buf, "ok\n", 3) != 0) {
		free(buf);
		return NULL;
	}
	memmove(buf, buf + 3, n - 2);
	return buf;
}

/* The value of a "name value" line; 0 when absent. */
static uint64_t counter(const char *text, const char *name)
{
	size_t l = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, l) == 0 && p[l] == ' ')
			return strtoull(p + l + 1, NULL, 10);
	return 0;
}

#define TOP_NAMES 10

struct top_sample {
	struct timespec at;
	char *stats, *cache, *names, *pools;
};

static void sample_free(struct top_sample *s)
{
	free(s->stats);
	free(s->cache);
	free(s->names);
	free(s->pools);
	memset(s, 0, sizeof(*s));
}

static bool sample_take(const char *path, struct top_sample *s)
{
	char cmd[32];

	clock_gettime(CLOCK_MONOTONIC, &s->at);
	snprintf(cmd, sizeof(cmd), "top %d", 4 * TOP_NAMES);
	s->stats = request(path, "stats");
	s->cache = request(path, "cache stats"); /* NULL without recursion */
	s->names = request(path, cmd);
	s->pools = request(path, "pools");
	return s->stats && s->names && s->pools;
}

static double per_sec(const struct top_sample *a, const struct top_sample *b, const char *text_a,
		      const char *text_b, const char *name)
{
	double dt = (double)(b->at.tv_sec - a->at.tv_sec) + (b->at.tv_nsec - a->at.tv_nsec) / 1e9;
	uint64_t x = counter(text_a, name), y = counter(text_b, name);

	return dt > 0 && y >= x ? (double)(y - x) / dt : 0;
}

/* "NAME TYPE COUNT" of line in a; its count, or -1 when a lacks it. */
static int64_t name_count(const char *text, const char *name, const char *type)
{
	char n[1100], t[16];
	unsigned long long c;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (sscanf(p, "%1099s %15s %llu", n, t, &c) == 3 && strcmp(n, name) == 0 &&
		    strcmp(t, type) == 0)
			return (int64_t)c;
	return -1;
}

static void top_draw(const struct top_sample *a, const struct top_sample *b, bool tty)
{
	double udp = per_sec(a, b, a->stats, b->stats, "queries.udp");
	double tcp = per_sec(a, b, a->stats, b->stats, "queries.tcp");
	double dpdk = per_sec(a, b, a->stats, b->stats, "dpdk.answered");
	double xdp = per_sec(a, b, a->stats, b->stats, "xdp.answered");
	double rec = a->cache && b->cache ? per_sec(a, b, a->cache, b->cache, "cache.hits") +
						    per_sec(a, b, a->cache, b->cache, "cache.misses")
					  : 0;
	char when[32];
	time_t now = time(NULL);

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&now));
	if (tty)
		fputs("\033[H\033[2J", stdout);
	printf("carousel top  %s  (every second; ^C to quit)\n\n", when);
	printf("queries/s  total %.0f   socket %.0f (udp %.0f, tcp %.0f)   dpdk %.0f   xdp %.0f   "
	       "recursion %.0f\n",
	       udp + tcp + dpdk + xdp, udp + tcp, udp, tcp, dpdk, xdp, rec);
	printf("errors/s   servfail %.0f   refused %.0f   formerr %.0f   dropped %.0f   "
	       "rrl %.0f\n\n",
	       per_sec(a, b, a->stats, b->stats, "rcode.SERVFAIL"),
	       per_sec(a, b, a->stats, b->stats, "rcode.REFUSED"),
	       per_sec(a, b, a->stats, b->stats, "rcode.FORMERR"),
	       per_sec(a, b, a->stats, b->stats, "dropped"),
	       per_sec(a, b, a->stats, b->stats, "rrl.slipped") +
		       per_sec(a, b, a->stats, b->stats, "rrl.dropped"));
	printf("top names (socket path, estimated queries/s)\n");
	unsigned shown = 0;
	double dt = (double)(b->at.tv_sec - a->at.tv_sec) + (b->at.tv_nsec - a->at.tv_nsec) / 1e9;

	for (const char *p = b->names; p && *p && shown < TOP_NAMES;
	     p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char name[1100], type[16];
		unsigned long long c;

		if (sscanf(p, "%1099s %15s %llu", name, type, &c) != 3)
			continue;
		int64_t before = name_count(a->names, name, type);

		/* a name new to the table has no rate yet */
		if (before < 0 || (uint64_t)before > c)
			continue;
		printf("  %10.0f  %s %s\n", dt > 0 ? (double)(c - (uint64_t)before) / dt : 0, name,
		       type);
		shown++;
	}
	if (!shown)
		printf("  (none yet)\n");
	printf("\npools with members down or drained\n");
	shown = 0;
	const char *pool = NULL;
	size_t pool_len = 0;
	bool pool_shown = false;

	for (const char *p = b->pools; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t l = eol ? (size_t)(eol - p) : strlen(p);

		if (strncmp(p, "pool ", 5) == 0) {
			pool = p;
			pool_len = l;
			pool_shown = false;
		} else if (pool && (memmem(p, l, " state down", 11) ||
				    memmem(p, l, " drained yes", 12))) {
			if (!pool_shown)
				printf("  %.*s\n", (int)pool_len - 5, pool + 5);
			pool_shown = true;
			printf("  %.*s\n", (int)l, p);
			shown++;
		}
		p = eol ? eol + 1 : p + l;
	}
	if (!shown)
		printf("  (none: every member is up and in rotation)\n");
	if (!tty)
		printf("\n");
	fflush(stdout);
}

static volatile sig_atomic_t top_stop;

static void on_signal(int sig)
{
	(void)sig;
	top_stop = 1;
}

static int top(const char *path, long count)
{
	struct top_sample a = {0}, b = {0};
	bool tty = isatty(STDOUT_FILENO);
	struct timespec second = {1, 0};

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN); /* a daemon that goes away is reported, not fatal */
	if (!sample_take(path, &a)) {
		fprintf(stderr, "carouselctl: cannot reach carouseld at %s\n", path);
		sample_free(&a);
		return 2;
	}
	for (long i = 0; !top_stop && (count <= 0 || i < count); i++) {
		nanosleep(&second, NULL);
		if (top_stop)
			break;
		if (!sample_take(path, &b)) {
			fprintf(stderr, "carouselctl: carouseld went away\n");
			sample_free(&a);
			sample_free(&b);
			return 2;
		}
		top_draw(&a, &b, tty);
		sample_free(&a);
		a = b;
		memset(&b, 0, sizeof(b));
	}
	sample_free(&a);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = "/run/carousel/ctl.sock";
	char buf[4096], cmd[256];
	int c, fd;
	size_t total = 0;
	bool first = true, failed = false;

	while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[optind], "top") == 0) {
		char *end = NULL;
		long count = optind + 1 < argc ? strtol(argv[optind + 1], &end, 10) : 0;

		if (optind + 2 < argc || (end && (*end || count < 1))) {
			usage(stderr);
			return 2;
		}
		return top(path, count);
	}
	size_t cl = 0;

	cmd[0] = '\0';
	for (int i = optind; i < argc; i++) {
		size_t al = strlen(argv[i]);

		if (cl + al + 2 >= sizeof(cmd) - 1) {
			fprintf(stderr, "carouselctl: command too long\n");
			return 2;
		}
		if (i > optind)
			cmd[cl++] = ' ';
		memcpy(cmd + cl, argv[i], al);
		cl += al;
		cmd[cl] = '\0';
	}
	fd = connect_ctl(path);
	if (fd < 0) {
		fprintf(stderr, "carouselctl: cannot reach carouseld at %s: %s\n", path,
			strerror(errno));
		return 2;
	}
	cmd[cl++] = '\n';
	if (write(fd, cmd, cl) != (ssize_t)cl) {
		fprintf(stderr, "carouselctl: write: %s\n", strerror(errno));
		return 2;
	}
	for (;;) {
		ssize_t k = read(fd, buf, sizeof(buf));

		if (k <= 0)
			break;
		size_t off = 0;

		/* The first line is the verdict: "ok" is not printed. */
		if (first) {
			first = false;
			if (k >= 3 && memcmp(buf, "ok\n", 3) == 0)
				off = 3;
			else
				failed = true;
		}
		fwrite(buf + off, 1, (size_t)k - off, failed ? stderr : stdout);
		total += (size_t)k;
	}
	close(fd);
	if (total == 0) {
		fprintf(stderr, "carouselctl: no reply from carouseld\n");
		return 2;
	}
	return failed ? 1 : 0;
}
