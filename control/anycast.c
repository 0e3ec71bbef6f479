/* anycast.c -- the anycast device and its addresses. Why a TUN device:
 * its life is the file descriptor's, so a crash or `kill -9` of carouseld
 * removes the device and every address on it at once; bird2 learns of it
 * from the netlink event, not its periodic interface scan, and withdraws
 * at once (under 0.2 s from the kill to the router in the tests,
 * docs/anycast.md). A clean stop closes it first. The addresses also make
 * the kernel deliver the anycast traffic locally, to the listeners on the
 * wildcard address. Addresses go through rtnetlink. */
#include "anycast.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pool.h"

struct announced {
	char text[64];
	int family;
	uint8_t addr[16];
	unsigned prefix;
	bool up;
	time_t since;
};

struct anycast {
	int tun_fd;
	int ifindex;
	unsigned n;
	struct announced *p; /* by prefix text, across reloads */
	uint64_t announces, withdrawals;
};

static int nl_addr(int ifindex, int family, const uint8_t *addr, unsigned prefix, bool add)
{
	struct {
		struct nlmsghdr n;
		struct ifaddrmsg ifa;
		char buf[128];
	} req;
	size_t alen = family == AF_INET ? 4 : 16;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int rc = -1;

	if (fd < 0)
		return -1;
	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	req.n.nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	req.ifa.ifa_family = (uint8_t)family;
	req.ifa.ifa_prefixlen = (uint8_t)prefix;
	req.ifa.ifa_index = (unsigned)ifindex;
	req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	req.ifa.ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0;
	for (int t = 0; t < 2; t++) {
		struct rtattr *rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.n.nlmsg_len));

		rta->rta_type = t ? IFA_ADDRESS : IFA_LOCAL;
		rta->rta_len = (unsigned short)RTA_LENGTH(alen);
		memcpy(RTA_DATA(rta), addr, alen);
		req.n.nlmsg_len = NLMSG_ALIGN(req.n.nlmsg_len) + RTA_ALIGN(rta->rta_len);
	}
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};

	if (sendto(fd, &req, req.n.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	char ack[512];
	ssize_t k = recv(fd, ack, sizeof(ack), 0);

	if (k >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
		struct nlmsghdr *h = (struct nlmsghdr *)ack;
		struct nlmsgerr *e = NLMSG_DATA(h);

		if (h->nlmsg_type == NLMSG_ERROR) {
			errno = -e->error;
			rc = e->error == 0 ? 0 : -1;
		}
	}
out:
	close(fd);
	return rc;
}

static int tun_open(int *ifindex)
{
	struct ifreq ifr = {0};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -1;
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ANYCAST_DEVICE);
	/* no TUNSETPERSIST: the device lives as long as this descriptor */
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		if (s >= 0)
			close(s);
		close(fd);
		return -1;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0 || ioctl(s, SIOCGIFINDEX, &ifr) < 0) {
		int e = errno;

		close(s);
		close(fd);
		errno = e;
		return -1;
	}
	*ifindex = ifr.ifr_ifindex;
	close(s);
	return fd;
}

struct anycast *anycast_create(const struct config *cfg)
{
	if (!cfg->fleet.nanycast)
		return NULL;
	struct anycast *a = calloc(1, sizeof(*a));

	if (!a)
		abort();
	a->tun_fd = tun_open(&a->ifindex);
	if (a->tun_fd < 0) {
		log_error("event=anycast device=%s error=\"cannot create the TUN device: %s\"",
			  ANYCAST_DEVICE, strerror(errno));
		free(a);
		return NULL;
	}
	log_info("event=anycast device=%s ifindex=%d", ANYCAST_DEVICE, a->ifindex);
	return a;
}

/* Does the prefix's service run? Any of its pools with a member that is
 * up (not a fail-open answer of on-all-down: serve-all). */
static bool prefix_serves(const struct anycast_prefix *p)
{
	if (p->npools == 0)
		return true;
	for (unsigned i = 0; i < p->npools; i++) {
		const struct pool *pool = p->pools[i];
		const struct pool_view *v = pool_view_get(pool);

		for (int f = 0; v && f < 2; f++)
			if (pool->nfam[f] && !v->all_down[f])
				return true;
	}
	return false;
}

static struct announced *find(struct anycast *a, const char *text)
{
	for (unsigned i = 0; i < a->n; i++)
		if (strcmp(a->p[i].text, text) == 0)
			return &a->p[i];
	return NULL;
}

static void set_state(struct anycast *a, struct announced *s, bool up, const char *why)
{
	if (s->up == up)
		return;
	if (nl_addr(a->ifindex, s->family, s->addr, s->prefix, up) < 0 &&
	    (up || errno != EADDRNOTAVAIL)) {
		log_error("event=anycast prefix=%s action=%s error=\"%s\"", s->text,
			  up ? "announce" : "withdraw", strerror(errno));
		return;
	}
	s->up = up;
	s->since = time(NULL);
	if (up)
		a->announces++;
	else
		a->withdrawals++;
	log_info("event=anycast prefix=%s action=%s reason=\"%s\"", s->text,
		 up ? "announce" : "withdraw", why);
}

void anycast_update(struct anycast *a, const struct config *cfg)
{
	const struct fleet_config *f = &cfg->fleet;

	if (!a)
		return;
	/* prefixes no longer configured go */
	for (unsigned i = 0; i < a->n; i++) {
		bool kept = false;

		for (unsigned k = 0; k < f->nanycast && !kept; k++)
			kept = strcmp(f->anycast[k].text, a->p[i].text) == 0;
		if (!kept)
			set_state(a, &a->p[i], false, "no longer configured");
	}
	for (unsigned k = 0; k < f->nanycast; k++) {
		const struct anycast_prefix *p = &f->anycast[k];
		struct announced *s = find(a, p->text);

		if (!s) {
			struct announced *np = realloc(a->p, (a->n + 1) * sizeof(*np));

			if (!np)
				abort();
			a->p = np;
			s = &a->p[a->n++];
			memset(s, 0, sizeof(*s));
			snprintf(s->text, sizeof(s->text), "%s", p->text);
			s->family = p->family;
			memcpy(s->addr, p->addr, 16);
			s->prefix = p->prefix;
		}
		bool up = prefix_serves(p);

		set_state(a, s, up,
			  up ? (p->npools ? "a pool serves" : "carouseld runs")
			     : "every pool is down");
	}
}

void anycast_withdraw_all(struct anycast *a)
{
	if (!a || a->tun_fd < 0)
		return;
	for (unsigned i = 0; i < a->n; i++)
		if (a->p[i].up)
			log_info("event=anycast prefix=%s action=withdraw reason=stopping",
				 a->p[i].text);
	/* the device goes with its descriptor, every address with it */
	close(a->tun_fd);
	a->tun_fd = -1;
	for (unsigned i = 0; i < a->n; i++)
		a->p[i].up = false;
}

void anycast_destroy(struct anycast *a)
{
	if (!a)
		return;
	anycast_withdraw_all(a);
	free(a->p);
	free(a);
}

size_t anycast_ctl(struct anycast *a, char *buf, size_t len)
{
	size_t n = 0;
	time_t now = time(NULL);

	if (!a)
		return (size_t)snprintf(buf, len, "no anycast prefixes\n");
	int k = snprintf(buf, len, "device %s announces %llu withdrawals %llu\n", ANYCAST_DEVICE,
			 (unsigned long long)a->announces, (unsigned long long)a->withdrawals);

	n = k > 0 ? (size_t)k : 0;
	for (unsigned i = 0; i < a->n && n < len; i++) {
		k = snprintf(buf + n, len - n, "%s %s for %lld s\n", a->p[i].text,
			     a->p[i].up ? "announced" : "withdrawn",
			     (long long)(now - a->p[i].since));
		if (k > 0)
			n += (size_t)k;
	}
	return n < len ? n : len;
}
