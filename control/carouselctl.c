/* carouselctl.c -- talk to carouseld's control socket. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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
		   "\n"
		   "Options:\n"
		   "  -s, --socket PATH  control socket (default /run/carousel/ctl.sock)\n"
		   "  -h, --help         this text\n"
		   "\n"
		   "Exit status: 0 ok, 1 the daemon reported an error, 2 usage or no daemon.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = "/run/carousel/ctl.sock";
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
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
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "carouselctl: socket path too long\n");
		return 2;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
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
