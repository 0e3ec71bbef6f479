/* udp_reflect.c -- the socket benchmark's trivial responder: every UDP
 * datagram comes back to its sender with QR set and nothing else changed,
 * so dnsperf against it measures dnsperf's own ceiling on this machine.
 *
 *   udp_reflect ADDRESS PORT
 *
 * One thread, recvmmsg/sendmmsg in batches as carouseld and Knot DNS do;
 * runs until SIGTERM or SIGINT. Built only as a benchmark helper. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define MAX_DGRAM 4096

static volatile sig_atomic_t force_quit;

static void on_signal(int sig)
{
	(void)sig;
	force_quit = 1;
}

int main(int argc, char **argv)
{
	static unsigned char buf[BATCH][MAX_DGRAM];
	struct sockaddr_in peer[BATCH];
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct sigaction act = {.sa_handler = on_signal};
	int rcvbuf = 4 << 20;
	int fd;

	if (argc != 3 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "usage: udp_reflect IPV4-ADDRESS PORT\n");
		return 2;
	}
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	/* no SA_RESTART: a signal ends the blocking recvmmsg with EINTR */
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("udp_reflect");
		return 1;
	}
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf[i];
		msg[i].msg_hdr =
		    (struct msghdr){.msg_name = &peer[i], .msg_iov = &iov[i], .msg_iovlen = 1};
	}
	while (!force_quit) {
		int n;

		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_len = MAX_DGRAM;
			msg[i].msg_hdr.msg_namelen = sizeof(peer[i]);
		}
		n = recvmmsg(fd, msg, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("recvmmsg");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			iov[i].iov_len = msg[i].msg_len;
			if (msg[i].msg_len > 2)
				buf[i][2] |= 0x80; /* QR: RFC 1035 4.1.1 */
		}
		/* what sendmmsg could not send is dropped, as a server would */
		if (sendmmsg(fd, msg, (unsigned int)n, 0) < 0 && errno != EINTR && errno != EAGAIN)
			perror("sendmmsg");
	}
	close(fd);
	return 0;
}
