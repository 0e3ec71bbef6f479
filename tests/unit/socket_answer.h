/* socket_answer.h -- the differential check of every fast path's unit test
 * (test_frame.c, test_dp.c, test_xdp.c): a reply frame carries, byte for
 * byte, the answer carouseld's socket path gives the same query; its
 * checksums verify; it goes back to the client's MAC, address and port.
 * Include after cmocka.h. */
#ifndef CAROUSEL_SOCKET_ANSWER_H
#define CAROUSEL_SOCKET_ANSWER_H

#include "engine.h"
#include "frame_util.h"

/* reply (rlen bytes, no VLAN tag) answers the DNS query dns (dlen bytes)
 * that fu_frame sent from client_port, as engine_answer does from ref for
 * client (NULL: any; topology needs the address). ref keeps its own
 * rotation counters: one call per query, in order. */
static inline void fu_assert_socket_answer(const struct config *ref,
					   const struct sockaddr *client, const uint8_t *dns,
					   size_t dlen, const uint8_t *reply, size_t rlen,
					   uint16_t client_port)
{
	static uint8_t sock[WIRE_TCP_MAX];
	struct engine_result r;
	size_t sl = engine_answer(ref, &(struct engine_ctx){.worker = 0, .client = client}, dns,
				  dlen, sock, sizeof(sock), false, &r);
	bool v6 = rlen >= 14 && wire_read16(reply + 12) == 0x86dd;
	size_t l3 = 14, l4 = l3 + (v6 ? 40 : 20), dns_off = l4 + 8;

	assert_true(sl > 0);
	assert_int_equal(rlen, dns_off + sl);
	assert_memory_equal(reply + dns_off, sock, sl);
	assert_true(fu_checksums_ok(reply, rlen));
	/* back where the query came from */
	assert_memory_equal(reply, fu_client_mac, 6);
	assert_memory_equal(reply + 6, fu_our_mac, 6);
	if (v6) {
		assert_memory_equal(reply + l3 + 8, fu_our_ip6, 16);
		assert_memory_equal(reply + l3 + 24, fu_client_ip6, 16);
	} else {
		assert_memory_equal(reply + l3 + 12, fu_our_ip4, 4);
		assert_memory_equal(reply + l3 + 16, fu_client_ip4, 4);
	}
	assert_int_equal(wire_read16(reply + l4), 53);
	assert_int_equal(wire_read16(reply + l4 + 2), client_port);
}

#endif
