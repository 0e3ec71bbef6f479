/* test_dnstap.c -- dnstap frames decode back to what was logged (protobuf-c
 * unpack of our own schema); queries and responses each in their own
 * frame; a sink nobody reads never blocks a writer: frames are dropped
 * and counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "dnstap.h"
#include "dnstap.pb-c.h"

static const uint8_t query[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
				3, 'w', 'w', 'w', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1};
static const uint8_t response[] = {0x12, 0x34, 0x84, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
				   3, 'w', 'w', 'w', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1};

static void record(struct dnstap_record *r, struct sockaddr_in6 *client,
		   struct sockaddr_in6 *server)
{
	memset(client, 0, sizeof(*client));
	memset(server, 0, sizeof(*server));
	client->sin6_family = server->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &client->sin6_addr);
	inet_pton(AF_INET6, "2001:db8::53", &server->sin6_addr);
	client->sin6_port = htons(40000);
	server->sin6_port = htons(53);
	*r = (struct dnstap_record){
		.kind = DNSTAP_CLIENT, .tcp = true,
		.client = (struct sockaddr *)client, .server = (struct sockaddr *)server,
		.query_time = {1700000000, 123456789}, .response_time = {1700000000, 223456789},
		.query = query, .query_len = sizeof(query),
		.response = response, .response_len = sizeof(response),
	};
}

static void test_encode(void **state)
{
	struct sockaddr_in6 client, server;
	struct dnstap_record r;
	uint8_t buf[1024];

	(void)state;
	record(&r, &client, &server);
	for (int resp = 0; resp < 2; resp++) {
		size_t n = dnstap_encode(&r, resp, "appliance-1", buf, sizeof(buf));

		assert_true(n > 0);
		Dnstap__Dnstap *d = dnstap__dnstap__unpack(NULL, n, buf);

		assert_non_null(d);
		assert_int_equal(d->type, DNSTAP__DNSTAP__TYPE__MESSAGE);
		assert_memory_equal(d->identity.data, "appliance-1", 11);
		assert_true(d->has_version);
		Dnstap__Message *m = d->message;

		assert_int_equal(m->type, resp ? DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE
					       : DNSTAP__MESSAGE__TYPE__CLIENT_QUERY);
		assert_int_equal(m->socket_family, DNSTAP__SOCKET_FAMILY__INET6);
		assert_int_equal(m->socket_protocol, DNSTAP__SOCKET_PROTOCOL__TCP);
		assert_int_equal(m->query_address.len, 16);
		assert_memory_equal(m->query_address.data, &client.sin6_addr, 16);
		assert_memory_equal(m->response_address.data, &server.sin6_addr, 16);
		assert_int_equal(m->query_port, 40000);
		assert_int_equal(m->response_port, 53);
		assert_int_equal(m->query_time_sec, 1700000000);
		assert_int_equal(m->query_time_nsec, 123456789);
		assert_int_equal(m->has_query_message, !resp);
		assert_int_equal(m->has_response_message, resp);
		if (resp) {
			assert_int_equal(m->response_time_nsec, 223456789);
			assert_int_equal(m->response_message.len, sizeof(response));
			assert_memory_equal(m->response_message.data, response, sizeof(response));
		} else {
			assert_false(m->has_response_time_sec);
			assert_memory_equal(m->query_message.data, query, sizeof(query));
		}
		dnstap__dnstap__free_unpacked(d, NULL);
	}
	/* a buffer too small is refused, not overrun */
	assert_int_equal(dnstap_encode(&r, true, "appliance-1", buf, 20), 0);
}

static void test_auth_ipv4(void **state)
{
	struct sockaddr_in client = {.sin_family = AF_INET, .sin_port = htons(5353)};
	struct dnstap_record r = {.kind = DNSTAP_AUTH, .client = (struct sockaddr *)&client,
				  .query = query, .query_len = sizeof(query)};
	uint8_t buf[1024];

	(void)state;
	inet_pton(AF_INET, "192.0.2.7", &client.sin_addr);
	size_t n = dnstap_encode(&r, false, "x", buf, sizeof(buf));
	Dnstap__Dnstap *d = dnstap__dnstap__unpack(NULL, n, buf);

	assert_non_null(d);
	assert_int_equal(d->message->type, DNSTAP__MESSAGE__TYPE__AUTH_QUERY);
	assert_int_equal(d->message->socket_family, DNSTAP__SOCKET_FAMILY__INET);
	assert_int_equal(d->message->socket_protocol, DNSTAP__SOCKET_PROTOCOL__UDP);
	assert_int_equal(d->message->query_address.len, 4);
	assert_false(d->message->has_response_address); /* unknown: left out */
	dnstap__dnstap__free_unpacked(d, NULL);
}

/* Nobody listens on the socket: every frame past the queue is dropped at
 * once, counted, and the writer goes on. */
static void test_no_reader_never_blocks(void **state)
{
	struct dnstap_config cfg = {.enable = true, .sink_type = DNSTAP_SINK_UNIX,
				    .sink = "unix:/nonexistent/carousel-dnstap.sock",
				    .path = "/nonexistent/carousel-dnstap.sock",
				    .log_queries = true, .log_responses = true, .sample = 1};
	struct sockaddr_in6 client, server;
	struct dnstap_record r;
	struct timespec a, b;
	char err[256], stats[128];
	unsigned long long sent, dropped;

	(void)state;
	record(&r, &client, &server);
	struct dnstap *d = dnstap_open(&cfg, 2, err, sizeof(err));

	assert_non_null(d);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 10000; i++)
		if (dnstap_sampled(d, 1))
			dnstap_log(d, 1, &r);
	clock_gettime(CLOCK_MONOTONIC, &b);
	dnstap_stats(d, stats, sizeof(stats));
	assert_int_equal(sscanf(stats, "dnstap.queued %llu\ndnstap.dropped %llu", &sent, &dropped),
			 2);
	/* fstrm's thread discards what it cannot write while it drains the
	 * queue, so how many are dropped depends on its pace */
	assert_int_equal(sent + dropped, 20000);
	/* 20 000 frames in well under a second: nothing waited for a reader */
	assert_true((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 2000000000L);

	/* sampling: 1 in 10 per queue */
	cfg.sample = 10;
	dnstap_update(d, &cfg);
	unsigned k = 0;

	for (int i = 0; i < 1000; i++)
		k += dnstap_sampled(d, 0);
	assert_int_equal(k, 100);
	dnstap_close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_auth_ipv4),
		cmocka_unit_test(test_no_reader_never_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
