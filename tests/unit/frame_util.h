/* frame_util.h -- test and benchmark helper: craft Ethernet/IPv4|IPv6/UDP
 * DNS query frames, as a client on the wire would send them. */
#ifndef CAROUSEL_FRAME_UTIL_H
#define CAROUSEL_FRAME_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "dname.h"
#include "frame.h"
#include "wire.h"

static const uint8_t fu_client_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t fu_our_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t fu_client_ip4[4] = {198, 51, 100, 2};
static const uint8_t fu_our_ip4[4] = {198, 51, 100, 1};
static const uint8_t fu_client_ip6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x64, [15] = 2};
static const uint8_t fu_our_ip6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x64, [15] = 1};

/* The bundled demo config ($CAROUSEL_SOURCE/configs/carousel.yaml), which
 * the tests, fuzzers and benchmarks answer from; NULL (error printed) when
 * it does not load. */
static inline struct config *fu_load_bundled(void)
{
	char path[512], err[CFG_ERR_LEN];
	const char *src = getenv("CAROUSEL_SOURCE");

	snprintf(path, sizeof(path), "%s/configs/carousel.yaml", src ? src : ".");
	struct config *cfg = config_load(path, err, sizeof(err));

	if (!cfg)
		fprintf(stderr, "%s\n", err);
	return cfg;
}

/* A config from text, with the bundled zone example.test. (written to a
 * temporary file, removed again); NULL (error printed) when it does not
 * load. `pools` is the config's `pools:` section. */
static inline struct config *fu_load_pools(const char *pools)
{
	char path[] = "/tmp/carousel-fu-XXXXXX", err[CFG_ERR_LEN];
	const char *src = getenv("CAROUSEL_SOURCE");
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!f)
		return NULL;
	fprintf(f, "server: {listen: [127.0.0.1@5353]}\n"
		   "zones: [{name: example.test., file: %s/configs/zones/example.test.zone}]\n%s",
		src ? src : ".", pools);
	fclose(f);
	struct config *cfg = config_load(path, err, sizeof(err));

	unlink(path);
	if (!cfg)
		fprintf(stderr, "%s\n", err);
	return cfg;
}

/* A topology pool with an alias (for fu_load_pools) and the clients to
 * ask it from: the source (fu_client_ip4 or fu_client_ip6) or an ECS
 * option, and the member that comes first for them at step 0. */
__attribute__((unused)) static const char fu_topology_pools[] =
	"pools:\n"
	"  - name: geo.example.test.\n"
	"    aliases: [near.example.test.]\n"
	"    method: topology\n"
	"    answer-count: 2\n"
	"    members:\n"
	"      - {address: 192.0.2.31, clients: [198.51.0.0/16]}\n"
	"      - {address: 192.0.2.32, clients: [198.51.100.0/24, 10.0.0.0/8]}\n"
	"      - {address: 192.0.2.33, clients: [198.51.100.0/24]}\n"
	"      - {address: 192.0.2.34}\n"
	"      - {address: 192.0.2.35, clients: [\"2001:db8::/32\"]}\n"
	"      - {address: 192.0.2.36, clients: [198.51.100.0/24]}\n";

struct fu_topology_case {
	const char *what;
	bool v6;
	uint8_t ecs[16];
	size_t ecs_len;
	const char *first;
};

__attribute__((unused)) static const struct fu_topology_case fu_topology[] = {
	{"source 198.51.100.2 (/24: three members)", false, {0}, 0, "192.0.2.32"},
	{"source 2001:db8:0:64::2 (/32: one member)", true, {0}, 0, "192.0.2.35"},
	{"ECS 198.51.7.0/24 (/16, scope 16)", false, {0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 7}, 11,
	 "192.0.2.31"},
	{"ECS 10.1.0.0/16 (/8, scope 8)", false, {0, 8, 0, 6, 0, 1, 16, 0, 10, 1}, 10,
	 "192.0.2.32"},
	{"ECS 203.0.113.0/24 (no prefix: every member)", false,
	 {0, 8, 0, 7, 0, 1, 24, 0, 203, 0, 113}, 11, "192.0.2.31"},
	{"ECS 2001:db9::/32 over IPv4 (no prefix)", false,
	 {0, 8, 0, 8, 0, 2, 32, 0, 0x20, 0x01, 0x0d, 0xb9}, 12, "192.0.2.31"},
	{"ECS 2001:db8::/32 over IPv4 (scope 32)", false,
	 {0, 8, 0, 8, 0, 2, 32, 0, 0x20, 0x01, 0x0d, 0xb8}, 12, "192.0.2.35"},
	{"ECS /0 (no prefix)", false, {0, 8, 0, 4, 0, 1, 0, 0}, 8, "192.0.2.31"},
};

/* A dataplane section on the addresses the crafted frames are sent to. */
static inline void fu_dp_addresses(struct config *cfg)
{
	cfg->dp.present = true;
	cfg->dp.has_ip4 = cfg->dp.has_ip6 = true;
	memcpy(cfg->dp.ip4, fu_our_ip4, 4);
	memcpy(cfg->dp.ip6, fu_our_ip6, 16);
	cfg->dp.dns_port = 53;
}

static inline struct frame_addrs fu_addrs(void)
{
	struct frame_addrs a = {.has_ip6 = true, .port = 53};

	memcpy(&a.ip4, fu_our_ip4, 4);
	memcpy(a.ip6, fu_our_ip6, 16);
	return a;
}

/* A DNS query message: name as given (case kept), optional OPT. */
static inline size_t fu_dns_query(uint8_t *m, uint16_t id, const char *name, uint16_t qtype,
				  int edns_size, bool dnssec_ok)
{
	uint8_t n[DNAME_MAXLEN];
	int nl = dname_from_str(name, n, sizeof(n));
	size_t pos = WIRE_HDR_LEN;

	memset(m, 0, WIRE_HDR_LEN);
	wire_write16(m, id);
	m[2] = 0x01; /* RD */
	m[5] = 1;
	memcpy(m + pos, n, (size_t)nl);
	pos += (size_t)nl;
	wire_write16(m + pos, qtype);
	wire_write16(m + pos + 2, CLASS_IN);
	pos += 4;
	if (edns_size > 0) {
		m[11] = 1;
		m[pos] = 0;
		wire_write16(m + pos + 1, TYPE_OPT);
		wire_write16(m + pos + 3, (uint16_t)edns_size);
		wire_write32(m + pos + 5, dnssec_ok ? WIRE_EDNS_DO : 0);
		wire_write16(m + pos + 9, 0);
		pos += WIRE_OPT_RR_LEN;
	}
	return pos;
}

static inline uint16_t fu_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Wrap a DNS message into a frame. Checksums are filled in. */
static inline size_t fu_frame(uint8_t *f, bool v6, const uint8_t *dns, size_t dlen,
			      uint16_t sport)
{
	size_t l3 = 14, l4 = l3 + (v6 ? 40 : 20), ulen = 8 + dlen;
	uint32_t sum = 0;

	memcpy(f, fu_our_mac, 6);
	memcpy(f + 6, fu_client_mac, 6);
	wire_write16(f + 12, v6 ? 0x86dd : 0x0800);
	if (v6) {
		memset(f + l3, 0, 40);
		f[l3] = 0x60;
		wire_write16(f + l3 + 4, (uint16_t)ulen);
		f[l3 + 6] = 17;
		f[l3 + 7] = 64;
		memcpy(f + l3 + 8, fu_client_ip6, 16);
		memcpy(f + l3 + 24, fu_our_ip6, 16);
		for (int i = 0; i < 32; i += 2)
			sum += wire_read16(f + l3 + 8 + i);
	} else {
		memset(f + l3, 0, 20);
		f[l3] = 0x45;
		wire_write16(f + l3 + 2, (uint16_t)(20 + ulen));
		f[l3 + 8] = 64;
		f[l3 + 9] = 17;
		memcpy(f + l3 + 12, fu_client_ip4, 4);
		memcpy(f + l3 + 16, fu_our_ip4, 4);
		uint32_t h = 0;

		for (int i = 0; i < 20; i += 2)
			h += wire_read16(f + l3 + i);
		wire_write16(f + l3 + 10, (uint16_t)~fu_fold(h));
		for (int i = 0; i < 8; i += 2)
			sum += wire_read16(f + l3 + 12 + i);
	}
	wire_write16(f + l4, sport);
	wire_write16(f + l4 + 2, 53);
	wire_write16(f + l4 + 4, (uint16_t)ulen);
	wire_write16(f + l4 + 6, 0);
	memcpy(f + l4 + 8, dns, dlen);
	sum += 17 + (uint32_t)ulen;
	for (size_t i = 0; i < ulen; i += 2)
		sum += (uint32_t)(f[l4 + i] << 8 | (i + 1 < ulen ? f[l4 + i + 1] : 0));
	uint16_t c = (uint16_t)~fu_fold(sum);

	wire_write16(f + l4 + 6, c ? c : 0xffff);
	return l4 + ulen;
}

/* Reference check (RFC 1071 computed naively): both checksums of a frame
 * built by the fast path verify. */
static inline bool fu_checksums_ok(const uint8_t *f, size_t len)
{
	size_t l3 = 14;

	if (len < 18)
		return false;
	if (wire_read16(f + 12) == 0x8100) /* one VLAN tag */
		l3 = 18;
	bool v6 = wire_read16(f + l3 - 2) == 0x86dd;
	size_t l4 = l3 + (v6 ? 40 : 20);
	uint32_t sum = 0;

	if (len < l4 + 8)
		return false;
	size_t ulen = wire_read16(f + l4 + 4);

	if (l4 + ulen != len)
		return false;
	if (!v6) {
		uint32_t h = 0;

		for (int i = 0; i < 20; i += 2)
			h += wire_read16(f + l3 + i);
		if (fu_fold(h) != 0xffff)
			return false;
		for (int i = 0; i < 8; i += 2)
			sum += wire_read16(f + l3 + 12 + i);
	} else {
		if (wire_read16(f + l3 + 4) != ulen)
			return false;
		for (int i = 0; i < 32; i += 2)
			sum += wire_read16(f + l3 + 8 + i);
	}
	sum += 17 + (uint32_t)ulen;
	for (size_t i = 0; i < ulen; i += 2)
		sum += (uint32_t)(f[l4 + i] << 8 | (i + 1 < ulen ? f[l4 + i + 1] : 0));
	return fu_fold(sum) == 0xffff;
}

#endif
