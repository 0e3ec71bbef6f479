/* test_config.c -- config loader: a valid file loads; each class of error
 * is reported at the right file:line:col. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "wire.h"

static char dir[64];

static const char zone_text[] = "$ORIGIN example.test.\n"
				"$TTL 300\n"
				"@ SOA ns hostmaster 1 2 3 4 60\n"
				"@ NS ns\n"
				"ns A 192.0.2.1\n"
				"loop1 CNAME loop2\n"
				"loop2 CNAME www\n";

static void write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/carousel-cfg-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	write_file("z.zone", zone_text);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* Load text as a config; expect failure with "<path>:<where> <msg...>". */
static void expect_error(const char *text, const char *where, const char *msg)
{
	char path[128], err[CFG_ERR_LEN], want[256];

	write_file("c.yaml", text);
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	struct config *cfg = config_load(path, err, sizeof(err));

	if (cfg)
		fail_msg("config loaded, expected an error at %s", where);
	snprintf(want, sizeof(want), "%s:%s: ", path, where);
	if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, msg))
		fail_msg("got '%s', want '%s%s'", err, want, msg);
}

/* Load text as a config; it must load. */
static struct config *load_ok(const char *text)
{
	char path[128], err[CFG_ERR_LEN];

	write_file("c.yaml", text);
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	struct config *cfg = config_load(path, err, sizeof(err));

	if (!cfg)
		fail_msg("%s", err);
	return cfg;
}

#define HEAD "server:\n  listen: [127.0.0.1@5353]\nzones:\n  - {name: example.test., file: z.zone}\n"

static void test_valid(void **state)
{
	(void)state;
	struct config *cfg = load_ok(HEAD "pools:\n"
					   "  - name: web.example.test.\n"
					   "    aliases: [www.example.test.]\n"
					   "    members:\n"
					   "      - {address: 192.0.2.10}\n"
					   "      - {address: \"2001:db8::10\", weight: 3}\n");

	assert_int_equal(cfg->nzones, 1);
	assert_int_equal(cfg->npools, 1);
	assert_int_equal(cfg->pools[0]->nfam[0], 1);
	assert_int_equal(cfg->pools[0]->nfam[1], 1);
	assert_int_equal(cfg->pools[0]->ttl, 30); /* default */
	assert_int_equal(cfg->workers, 1);
	assert_string_equal(cfg->listen[0].text, "127.0.0.1@5353");
	config_free(cfg);
}

/* Defaults come from the schema rows, for sections that are there and for
 * those that are not. */
static void test_defaults(void **state)
{
	(void)state;
	struct config *cfg = load_ok(HEAD "pools:\n"
					   "  - name: web.example.test.\n"
					   "    monitor: {type: http}\n"
					   "    members: [{address: 192.0.2.10}]\n"
					   "dataplane: {port: net_ring0, address: 192.0.2.1}\n");
	const struct pool *p = cfg->pools[0];

	assert_int_equal(cfg->tcp_idle_timeout, 10);
	assert_int_equal(cfg->tcp_max_clients, 1024);
	assert_string_equal(cfg->control_socket, "/run/carousel/ctl.sock");
	assert_int_equal(cfg->rrl.rate, 50);
	assert_int_equal(cfg->rrl.table_size, 65536);
	assert_false(cfg->rrl.enable);
	assert_int_equal(cfg->rec.cache_size, 64ULL << 20);
	assert_int_equal(cfg->rec.max_ttl, 86400);
	assert_true(cfg->rec.prefetch);
	assert_int_equal(cfg->rec.nallow, 2); /* loopback only */
	assert_int_equal(p->method, ROT_ROUND_ROBIN);
	assert_int_equal(p->min_up, 1);
	assert_int_equal(p->degraded_ttl, 5); /* min(ttl, 5) */
	assert_int_equal(p->members[0].weight, 1);
	assert_int_equal(p->monitor->interval_ms, 5000);
	assert_int_equal(p->monitor->timeout_ms, 2000);
	assert_int_equal(p->monitor->rise, 2);
	assert_int_equal(p->monitor->fall, 3);
	assert_true(p->monitor->initial_up);
	assert_string_equal(p->monitor->path, "/");
	assert_int_equal(p->monitor->expect, 200);
	assert_int_equal(p->monitor->qtype, TYPE_SOA);
	assert_int_equal(cfg->dp.burst, 32);
	assert_int_equal(cfg->dp.idle_sleep_us, 1000);
	assert_int_equal(cfg->dp.dns_port, 53);
	assert_string_equal(cfg->dp.exception, "net_tap0,iface=cartap0");
	config_free(cfg);
}

/* Pools are read an item at a time after zones, and whole before them; an
 * anchor in one pool may be used by a later one either way. */
static void test_pools_order(void **state)
{
	(void)state;
	static const char pools[] = "pools:\n"
				    "  - name: a.example.test.\n"
				    "    monitor: &m {type: tcp, port: 80, interval: 3s}\n"
				    "    members: [{address: 192.0.2.10}]\n"
				    "  - name: b.example.test.\n"
				    "    aliases: [c.example.test.]\n"
				    "    on-all-down: {pool: a.example.test.}\n"
				    "    monitor: *m\n"
				    "    members: [{address: 192.0.2.11}]\n";
	char text[1024];

	for (int before = 0; before < 2; before++) {
		if (before)
			snprintf(text, sizeof(text), "server:\n  listen: [127.0.0.1@5353]\n%s"
				 "zones:\n  - {name: example.test., file: z.zone}\n", pools);
		else
			snprintf(text, sizeof(text), "%s%s", HEAD, pools);
		struct config *cfg = load_ok(text);

		assert_int_equal(cfg->npools, 2);
		assert_int_equal(cfg->pools[1]->monitor->interval_ms, 3000);
		assert_ptr_equal(cfg->pools[1]->fallback, cfg->pools[0]);
		assert_int_equal(cfg->pools[1]->naliases, 1);
		assert_int_equal(cfg->pools[1]->index, 1);
		config_free(cfg);
	}
	/* the fallback's position survives its item being dropped */
	expect_error(HEAD "pools:\n"
			  "  - {name: a.example.test., members: [{address: 192.0.2.1}]}\n"
			  "  - name: b.example.test.\n"
			  "    on-all-down: {pool: nope.example.test.}\n"
			  "    members: [{address: 192.0.2.2}]\n",
		     "8:25", "no pool named nope.example.test.");
	expect_error(HEAD "pools:\n  - *undefined\n", "6:5", "undefined alias");
}

static void test_yaml_shape(void **state)
{
	char deep[600];

	(void)state;
	expect_error("", "1:1", "the file is empty");
	expect_error("- a\n- b\n", "1:1", "the config must be a mapping");
	expect_error("[a]: 1\n", "1:1", "keys in the config must be plain words");
	expect_error("server:\n  listen: [127.0.0.1@5353]\nserver: {}\n", "3:1",
		     "duplicate key 'server' in the config");
	size_t k = (size_t)snprintf(deep, sizeof(deep), "server: ");

	for (int i = 0; i < 200; i++)
		deep[k++] = '[';
	for (int i = 0; i < 200; i++)
		deep[k++] = ']';
	deep[k] = '\0';
	expect_error(deep, "1:73", "nested more than 64 levels deep");
}

static void test_yaml_syntax(void **state)
{
	(void)state;
	expect_error("server:\n  listen: [127.0.0.1@5353\n", "3:1", "did not find expected");
}

static void test_unknown_key(void **state)
{
	(void)state;
	expect_error("server:\n  lisen: [127.0.0.1@5353]\n", "2:3", "unknown key 'lisen'");
	expect_error(HEAD "pools:\n  - name: a.example.test.\n    colour: red\n", "7:5",
		     "unknown key 'colour'");
}

static void test_wrong_type(void **state)
{
	(void)state;
	expect_error("server:\n  workers: many\n", "2:12", "must be a whole number");
	expect_error("server:\n  workers: [1]\n", "2:12", "must be a scalar");
	expect_error("server:\n  listen: [127.0.0.1@53]\n  workers: 0\n", "3:12",
		     "between 1 and 64");
	expect_error(HEAD "pools: {name: x}\n", "5:8", "pools must be a list");
}

static void test_bad_address(void **state)
{
	(void)state;
	expect_error("server:\n  listen: [127.0.0.300@53]\n", "2:12", "not an IPv4 or IPv6");
	expect_error("server:\n  listen: [127.0.0.1@99999]\n", "2:12", "port");
	expect_error(HEAD "pools:\n  - name: web.example.test.\n    members:\n"
			  "      - {address: 192.0.2.x}\n",
		     "8:19", "'192.0.2.x' is not an IPv4 or IPv6 address");
}

static void test_duplicates(void **state)
{
	(void)state;
	expect_error(HEAD "  - {name: Example.Test., file: z.zone}\n", "5:12",
		     "duplicate zone");
	expect_error(HEAD "pools:\n  - name: a.example.test.\n    members: [{address: 192.0.2.1}]\n"
			  "  - name: a.example.test.\n    members: [{address: 192.0.2.2}]\n",
		     "8:11", "duplicate name a.example.test.");
	expect_error(HEAD "pools:\n  - name: a.example.test.\n    members: [{address: 192.0.2.1}]\n"
			  "  - name: b.example.test.\n    aliases: [a.example.test.]\n"
			  "    members: [{address: 192.0.2.2}]\n",
		     "9:15", "duplicate name a.example.test.");
	expect_error(HEAD "pools:\n  - name: a.example.test.\n    members:\n"
			  "      - {address: 192.0.2.1}\n      - {address: 192.0.2.1}\n",
		     "9:19", "duplicate member");
	expect_error("server:\n  listen: [127.0.0.1@53]\n  listen: [127.0.0.1@54]\n", "3:3",
		     "duplicate key 'listen'");
}

static void test_alias_loop(void **state)
{
	(void)state;
	expect_error(HEAD "pools:\n  - name: a.example.test.\n    aliases: [a.example.test.]\n"
			  "    members: [{address: 192.0.2.1}]\n",
		     "7:15", "loops");
	/* www -> web (pool); loop1 -> loop2 -> www is fine; an alias that
	 * is a zone CNAME target chain back to itself is not */
	expect_error(HEAD "pools:\n  - name: a.example.test.\n    aliases: [loop2.example.test.]\n"
			  "    members: [{address: 192.0.2.1}]\n",
		     "7:15", "already has data");
}

static void test_pool_outside_zone(void **state)
{
	(void)state;
	expect_error(HEAD "pools:\n  - name: web.example.org.\n    members: [{address: 192.0.2.1}]\n",
		     "6:11", "outside every configured zone");
	expect_error(HEAD "pools:\n  - name: web.example.test.\n    aliases: [www.example.org.]\n"
			  "    members: [{address: 192.0.2.1}]\n",
		     "7:15", "alias www.example.org. is outside");
}

static void test_zone_file_error(void **state)
{
	char want[160];

	(void)state;
	write_file("bad.zone", "$ORIGIN example.test.\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\n"
			       "ns A 192.0.2.256\n");
	snprintf(want, sizeof(want), "%s/bad.zone:4:", dir);
	expect_error("server:\n  listen: [127.0.0.1@53]\nzones:\n  - {name: example.test., file: "
		     "bad.zone}\n",
		     "4:33", want);
	write_file("nosoa.zone", "$ORIGIN example.test.\n@ 60 NS ns\n");
	expect_error("server:\n  listen: [127.0.0.1@53]\nzones:\n  - {name: example.test., file: "
		     "nosoa.zone}\n",
		     "4:33", "no SOA");
	expect_error("server:\n  listen: [127.0.0.1@53]\nzones:\n  - {name: example.test., file: "
		     "missing.zone}\n",
		     "4:33", "cannot open");
}

#define POOL "pools:\n  - name: web.example.test.\n"

/* Health keys: each mistake at its line and column. */
static void test_health_errors(void **state)
{
	(void)state;
	expect_error(HEAD POOL "    monitor: {type: ftp}\n    members: [{address: 192.0.2.1}]\n",
		     "7:21", "monitor type must be tcp, http");
	expect_error(HEAD POOL "    monitor: {port: 80}\n    members: [{address: 192.0.2.1}]\n",
		     "7:14", "monitor needs a type");
	expect_error(HEAD POOL "    monitor: {type: tcp}\n    members: [{address: 192.0.2.1}]\n",
		     "7:14", "a tcp monitor needs a port");
	expect_error(HEAD POOL "    monitor: {type: http, interval: 1s, timeout: 2s}\n"
			       "    members: [{address: 192.0.2.1}]\n",
		     "7:50", "must not exceed its interval");
	expect_error(HEAD POOL "    monitor: {type: http, rise: 0}\n"
			       "    members: [{address: 192.0.2.1}]\n",
		     "7:33", "monitor rise must be between 1 and 100");
	expect_error(HEAD POOL "    monitor: {type: http, credentials: x.cred}\n"
			       "    members: [{address: 192.0.2.1}]\n",
		     "7:40", "credentials are for pop3 and imap monitors");
	expect_error(HEAD POOL "    monitor: {type: imap, credentials: missing.cred}\n"
			       "    members: [{address: 192.0.2.1}]\n",
		     "7:40", "missing.cred: No such file");
	write_file("open.cred", "u:p\n");
	char path[128];

	snprintf(path, sizeof(path), "%s/open.cred", dir);
	chmod(path, 0644);
	expect_error(HEAD POOL "    monitor: {type: imap, credentials: open.cred}\n"
			       "    members: [{address: 192.0.2.1}]\n",
		     "7:40", "readable by others (mode 644)");
	write_file("nocolon.cred", "just-a-user\n");
	snprintf(path, sizeof(path), "%s/nocolon.cred", dir);
	chmod(path, 0600);
	expect_error(HEAD POOL "    monitor: {type: pop3, credentials: nocolon.cred}\n"
			       "    members: [{address: 192.0.2.1}]\n",
		     "7:40", "USER:PASSWORD");
	expect_error(HEAD POOL "    monitor: {type: exec}\n    members: [{address: 192.0.2.1}]\n",
		     "7:14", "an exec monitor needs a command");
	expect_error(HEAD POOL "    on-all-down: maybe\n    members: [{address: 192.0.2.1}]\n",
		     "7:18", "on-all-down takes serve-all, servfail or {pool: NAME}");
	expect_error(HEAD POOL "    on-all-down: {pool: nope.example.test.}\n"
			       "    members: [{address: 192.0.2.1}]\n",
		     "7:25", "on-all-down: no pool named nope.example.test.");
	expect_error(HEAD POOL "    on-all-down: {pool: web.example.test.}\n"
			       "    members: [{address: 192.0.2.1}]\n",
		     "7:25", "cannot fall back on itself");
	expect_error(HEAD POOL "    members: [{address: 192.0.2.1, group: 1}]\n", "7:43",
		     "member group is for method: failover");
	expect_error(HEAD POOL "    method: topology\n"
			       "    members: [{address: 192.0.2.1, clients: [10.0.0.0/33]}]\n",
		     "8:46", "prefix length in '10.0.0.0/33' must be 0-32");
	expect_error(HEAD POOL "    method: random\n    members: [{address: 192.0.2.1}]\n", "7:13",
		     "round-robin, weighted, failover or topology");
	expect_error(HEAD "metrics: {}\n", "5:10", "metrics.listen is required");
	expect_error(HEAD POOL "    monitor: {type: http, tls-verify: true}\n"
			       "    members: [{address: 192.0.2.1}]\n",
		     "7:14", "tls-verify is for https, pop3s and imaps monitors");
}

/* keys:, secondary zones (primary:, key:) and anycast: (config_fleet.c). */
static void test_fleet(void **state)
{
	char path[128];

	(void)state;
	write_file("good.key", "YWJjZGVmZ2hpamtsbW5vcA==\n");
	snprintf(path, sizeof(path), "%s/good.key", dir);
	chmod(path, 0600);
	struct config *cfg = load_ok(HEAD "  - name: example.net.\n"
					  "    primary: [127.0.0.1@5300, \"::1@5300\"]\n"
					  "    key: k.\n"
					  "    file: never-transferred.zone\n"
					  "keys:\n"
					  "  - {name: k., algorithm: hmac-sha256, secret-file: good.key}\n"
					  "pools:\n"
					  "  - name: www.example.net.\n"
					  "    members: [{address: 192.0.2.1}]\n"
					  "anycast:\n"
					  "  - prefix: 192.0.2.53/32\n"
					  "    pools: [www.example.net.]\n"
					  "  - prefix: \"2001:db8::53/128\"\n");
	const struct fleet_config *f = &cfg->fleet;

	assert_int_equal(f->nsecondaries, 1);
	assert_int_equal(f->secondaries[0].nprimaries, 2);
	assert_non_null(f->secondaries[0].key);
	assert_int_equal(f->secondaries[0].key->alg, TSIG_HMAC_SHA256);
	assert_int_equal(f->secondaries[0].key->secret_len, 16);
	/* nothing transferred yet: an empty zone (SERVFAIL), pools attach */
	uint8_t apex[DNAME_MAXLEN], www[DNAME_MAXLEN];

	dname_from_str("example.net.", apex, sizeof(apex));
	dname_from_str("www.example.net.", www, sizeof(www));
	const struct zone *z = config_find_zone(cfg, apex);

	assert_non_null(z);
	assert_null(z->soa);
	assert_ptr_equal(z->secondary, &f->secondaries[0]);
	assert_non_null(config_find_pool(cfg, www));
	assert_int_equal(f->nanycast, 2);
	assert_int_equal(f->anycast[0].npools, 1);
	assert_ptr_equal(f->anycast[0].pools[0], config_find_pool(cfg, www));
	assert_int_equal(f->anycast[1].family, AF_INET6);
	assert_int_equal(f->anycast[1].npools, 0);
	config_free(cfg);

	/* a kept file serves */
	write_file("kept.zone", "$ORIGIN example.net.\n@ 60 SOA ns hm 7 2 3 4 60\n@ 60 NS ns\n");
	cfg = load_ok(HEAD "  - {name: example.net., primary: 127.0.0.1, file: kept.zone}\n");
	z = config_find_zone(cfg, apex);
	assert_non_null(z->soa);
	assert_null(cfg->fleet.secondaries[0].key);
	config_free(cfg);

	expect_error(HEAD "  - {name: example.net., primary: 127.0.0.1, key: nokey., file: s.zone}\n",
		     "5:1", "zone example.net.: no key named nokey. in keys:");
	expect_error(HEAD "  - name: example.net.\n    primary: nohost\n    file: s.zone\n", "6:14",
		     "primary 'nohost' is not an IPv4 or IPv6 address");
	expect_error(HEAD "  - name: example.net.\n    key: k.\n    file: s.zone\n", "5:5",
		     "needs primary:");
	expect_error(HEAD "keys:\n  - name: k.\n    algorithm: md5\n    secret: YWJj\n", "7:16",
		     "key algorithm must be hmac-sha256");
	expect_error(HEAD "keys:\n  - name: k.\n    algorithm: hmac-sha1\n"
			  "    secret: \"not base64!\"\n",
		     "8:13", "the secret must be base64");
	expect_error(HEAD "keys:\n  - name: k.\n    algorithm: hmac-sha1\n    secret: YWJj\n"
			  "    secret-file: good.key\n",
		     "6:5", "needs one of secret and secret-file");
	expect_error(HEAD "keys:\n  - name: k.\n    algorithm: hmac-sha1\n    password: x\n", "8:5",
		     "unknown key 'password' in a key");
	write_file("open.key", "YWJj\n");
	snprintf(path, sizeof(path), "%s/open.key", dir);
	chmod(path, 0644);
	expect_error(HEAD "keys:\n  - name: k.\n    algorithm: hmac-sha1\n"
			  "    secret-file: open.key\n",
		     "8:18", "readable by others (mode 644)");
	expect_error(HEAD "anycast:\n  - prefix: 192.0.2.0/24\n", "6:13", "must be a /32");
	expect_error(HEAD "anycast:\n  - {prefix: 192.0.2.53/32, pools: [nope.example.test.]}\n",
		     "6:1", "anycast 192.0.2.53/32: no pool named nope.example.test.");
}

/* A member's monitor starts from the pool's and overrides what it names. */
static void test_monitor_inherit(void **state)
{
	(void)state;
	struct config *cfg = load_ok(HEAD POOL "    monitor: {type: http, port: 8081, path: /health, "
					       "interval: 2s, timeout: 1s, rise: 3, fall: 4, "
					       "initial: down}\n"
					       "    members:\n"
					       "      - {address: 192.0.2.1}\n"
					       "      - {address: 192.0.2.2, monitor: {type: tcp, rise: 1}}\n"
					       "      - {address: 192.0.2.3, monitor: {path: /other}}\n"
					       "  - name: bare.example.test.\n"
					       "    members: [{address: 192.0.2.9}]\n");
	const struct pool *p = cfg->pools[0];
	const struct monitor *m0 = p->members[0].monitor, *m1 = p->members[1].monitor,
			     *m2 = p->members[2].monitor;

	assert_ptr_equal(m0, p->monitor);
	assert_int_equal(m0->type, MON_HTTP);
	assert_int_equal(m0->interval_ms, 2000);
	assert_int_equal(m0->timeout_ms, 1000);
	assert_int_equal(m0->rise, 3);
	assert_int_equal(m0->fall, 4);
	assert_false(m0->initial_up);
	assert_int_equal(m1->type, MON_TCP);
	assert_int_equal(m1->port, 8081);
	assert_int_equal(m1->rise, 1);
	assert_int_equal(m1->fall, 4);
	assert_int_equal(m2->type, MON_HTTP);
	assert_string_equal(m2->path, "/other");
	assert_int_equal(p->degraded_ttl, 5); /* min(ttl 30, 5) */
	assert_int_equal(p->on_all_down, ALL_DOWN_SERVE_ALL);
	assert_null(cfg->pools[1]->members[0].monitor);
	config_free(cfg);
}

/* http: defaults to loopback; off loopback it needs both secrets; the old
 * metrics: section is the same listener, /metrics only. */
static void test_http(void **state)
{
	char path[128];

	(void)state;
	struct config *cfg = load_ok(HEAD "http: {}\n");

	assert_true(cfg->http.enable);
	assert_false(cfg->http.metrics_only);
	assert_string_equal(cfg->http.listen.text, "127.0.0.1@9153");
	assert_int_equal(cfg->http.nallow, 0);
	assert_null(cfg->http.password);
	config_free(cfg);
	cfg = load_ok(HEAD "metrics:\n  listen: 127.0.0.1@9999\n");
	assert_true(cfg->http.enable);
	assert_true(cfg->http.metrics_only);
	config_free(cfg);

	write_file("http.pass", "admin:s3cret pass\n");
	write_file("http.key", "0123456789abcdef0123\n");
	write_file("short.key", "short\n");
	for (const char *f = "http.pass"; f; f = strcmp(f, "http.pass") == 0   ? "http.key"
					     : strcmp(f, "http.key") == 0 ? "short.key"
									   : NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, f);
		chmod(path, 0600);
	}
	cfg = load_ok(HEAD "http:\n  listen: 0.0.0.0@8443\n  allow: [10.0.0.0/8, \"::1\"]\n"
			   "  password-file: http.pass\n  api-key-file: http.key\n");
	assert_string_equal(cfg->http.user, "admin");
	assert_string_equal(cfg->http.password, "s3cret pass");
	assert_string_equal(cfg->http.api_key, "0123456789abcdef0123");
	assert_int_equal(cfg->http.nallow, 2);
	assert_int_equal(cfg->http.allow[0].prefix, 8);
	config_free(cfg);

	expect_error(HEAD "http:\n  listen: 192.0.2.1@8443\n", "6:3",
		     "http.listen 192.0.2.1@8443 is not loopback: set http.password-file and "
		     "http.api-key-file");
	expect_error(HEAD "http:\n  listen: 192.0.2.1@8443\n  password-file: http.pass\n", "6:3",
		     "is not loopback");
	expect_error(HEAD "http:\n  api-key-file: short.key\n", "6:17",
		     "the first line must be the key, 16 to 256 characters");
	expect_error(HEAD "http:\n  password-file: http.key\n", "6:18", "USER:PASSWORD");
	expect_error(HEAD "http:\n  allow: []\n", "6:10", "http.allow is empty");
	expect_error(HEAD "http:\n  allow: [10.0.0.0/40]\n", "6:11", "prefix length");
	expect_error(HEAD "http:\n  user: x\n", "6:3", "unknown key 'user' in http");
	expect_error(HEAD "http: {}\nmetrics: {listen: 127.0.0.1@9}\n", "6:10",
		     "http and metrics are one listener");
	expect_error(HEAD "metrics: {allow: [10.0.0.0/8]}\n", "5:11", "unknown key 'allow'");
}

/* dnstap: the three kinds of sink, defaults, and the errors. */
static void test_dnstap(void **state)
{
	(void)state;
	struct config *cfg = load_ok(HEAD "dnstap:\n  sink: unix:/run/carousel/dnstap.sock\n");

	assert_true(cfg->dnstap.enable);
	assert_int_equal(cfg->dnstap.sink_type, DNSTAP_SINK_UNIX);
	assert_string_equal(cfg->dnstap.path, "/run/carousel/dnstap.sock");
	assert_true(cfg->dnstap.log_queries && cfg->dnstap.log_responses);
	assert_int_equal(cfg->dnstap.sample, 1);
	assert_null(cfg->dnstap.identity);
	config_free(cfg);
	cfg = load_ok(HEAD "dnstap:\n  sink: tcp:192.0.2.1@6000\n  identity: appliance-1\n"
			   "  sample: 100\n  log-queries: false\n");
	assert_int_equal(cfg->dnstap.sink_type, DNSTAP_SINK_TCP);
	assert_string_equal(cfg->dnstap.tcp_host, "192.0.2.1");
	assert_string_equal(cfg->dnstap.tcp_port, "6000");
	assert_string_equal(cfg->dnstap.identity, "appliance-1");
	assert_int_equal(cfg->dnstap.sample, 100);
	assert_false(cfg->dnstap.log_queries);
	config_free(cfg);
	cfg = load_ok(HEAD "dnstap: {sink: tap.fstrm}\n");
	assert_int_equal(cfg->dnstap.sink_type, DNSTAP_SINK_FILE);
	assert_non_null(strstr(cfg->dnstap.path, "/tap.fstrm"));
	assert_true(cfg->dnstap.path[0] == '/');
	config_free(cfg);

	expect_error(HEAD "dnstap: {identity: x}\n", "5:9", "dnstap.sink is required");
	expect_error(HEAD "dnstap: {sink: \"tcp:192.0.2.1\"}\n", "5:16", "needs ADDRESS@PORT");
	expect_error(HEAD "dnstap: {sink: \"tcp:nope@1\"}\n", "5:16", "not an IPv4 or IPv6");
	expect_error(HEAD "dnstap: {sink: \"unix:\"}\n", "5:16", "dnstap.sink must be");
	expect_error(HEAD "dnstap: {sink: x, sample: 0}\n", "5:27", "between 1 and 1000000");
	expect_error(HEAD "dnstap: {sink: x, log-queries: maybe}\n", "5:32", "true or false");
	expect_error(HEAD "dnstap: {sink: x, version: 1}\n", "5:19", "unknown key 'version'");
}

static void test_missing(void **state)
{
	(void)state;
	expect_error("", "1:1", "empty");
	expect_error("zones: []\n", "1:1", "server.listen is required");
	expect_error("server:\n  listen: [127.0.0.1@53]\n", "1:1", "at least one zone");
	expect_error(HEAD "pools:\n  - aliases: []\n", "6:5", "pool needs a name");
}

/* dataplane.max-entries: sized to the config unless set, bounds checked */
static void test_max_entries(void **state)
{
	(void)state;
	struct config *cfg = load_ok(HEAD "pools:\n"
					   "  - name: web.example.test.\n"
					   "    aliases: [www.example.test.]\n"
					   "    members: [{address: 192.0.2.10}]\n");

	assert_int_equal(cfg->dp.max_entries, 65536); /* 4 names, the floor */
	config_free(cfg);
	cfg = load_ok(HEAD "dataplane:\n  interface: eth0\n  address: [192.0.2.1]\n"
			   "  max-entries: 2048\n");
	assert_int_equal(cfg->dp.max_entries, 2048);
	config_free(cfg);
	expect_error(HEAD "dataplane:\n  interface: eth0\n  address: [192.0.2.1]\n"
			  "  max-entries: 10\n",
		     "8:16", "dataplane.max-entries");
}

#define SRV "server:\n  listen: [127.0.0.1@5353]\n"

static void test_backends(void **state)
{
	(void)state;
	/* backends alone (no zones) make a config */
	struct config *cfg = load_ok(SRV "backends:\n"
					 "  - name: corp\n"
					 "    domains: [Corp.Example., other.example]\n"
					 "    policy: weighted\n"
					 "    servers:\n"
					 "      - {address: \"127.0.0.91@5300\", weight: 2, order: 1}\n"
					 "      - \"::1@5300\"\n"
					 "    check: {name: corp.example., type: SOA, interval: 1s, "
					 "timeout: 500ms, rise: 2, fall: 3}\n"
					 "    cache: {size: 32M, min-ttl: 0, max-ttl: 1h, stale: 30s}\n"
					 "    timeout: 1s\n"
					 "    allow: [10.0.0.0/8]\n"
					 "  - name: rest\n"
					 "    domains: [.]\n"
					 "    servers: [127.0.0.1]\n");
	uint8_t name[DNAME_MAXLEN];
	size_t len = 0;

	assert_int_equal(cfg->nzones, 0);
	assert_int_equal(cfg->nbackends, 2);
	const struct backend *b = &cfg->backends[0];

	assert_string_equal(b->name, "corp");
	assert_int_equal(b->policy, BP_WEIGHTED);
	assert_int_equal(b->nservers, 2);
	assert_string_equal(b->servers[0].addr.text, "127.0.0.91@5300");
	assert_int_equal(b->servers[0].weight, 2);
	assert_int_equal(b->servers[1].weight, 1);
	assert_string_equal(b->servers[1].addr.text, "::1@5300");
	assert_int_equal(b->check_interval_ms, 1000);
	assert_int_equal(b->check_timeout_ms, 500);
	assert_true(b->cache);
	assert_int_equal(b->cache_size, 32 << 20);
	assert_int_equal(b->cache_max_ttl, 3600);
	assert_int_equal(b->cache_stale, 30);
	assert_int_equal(b->nallow, 1);
	assert_false(cfg->backends[1].cache);
	assert_int_equal(cfg->backends[1].timeout_ms, 1000);
	assert_int_equal(cfg->backends[1].check_type, TYPE_SOA);
	/* the deepest domain decides; "." takes the rest */
	dname_from_str("www.corp.example.", name, sizeof(name));
	assert_ptr_equal(config_find_backend(cfg, name, &len), b);
	assert_int_equal(len, 14);
	dname_from_str("www.example.net.", name, sizeof(name));
	assert_ptr_equal(config_find_backend(cfg, name, &len), &cfg->backends[1]);
	assert_int_equal(len, 1);
	config_free(cfg);
	/* recursion alone is a config too */
	cfg = load_ok(SRV "recursion: {enable: true, mode: forward, forwarders: [127.0.0.1]}\n");
	config_free(cfg);
}

static void test_backend_errors(void **state)
{
	(void)state;
	expect_error(SRV "backends:\n  - name: a\n    domains: [a.example.]\n"
			 "    servers: [127.0.0.1]\n    policy: random\n",
		     "7:13", "backend policy must be");
	expect_error(SRV "backends:\n  - name: a\n    domains: [a.example.]\n",
		     "4:5", "backend a needs servers");
	expect_error(SRV "backends:\n  - name: a\n    domains: [a.example.]\n"
			 "    servers: [127.0.0.1, \"127.0.0.1@53\"]\n",
		     "6:26", "appears twice");
	expect_error(SRV "backends:\n  - name: a\n    domains: [a.example.]\n"
			 "    servers: [\"127.0.0.300@53\"]\n",
		     "6:15", "not an IPv4 or IPv6 address");
	expect_error(SRV "backends:\n  - name: a\n    domains: [a.example.]\n"
			 "    servers: [127.0.0.1]\n"
			 "  - name: b\n    domains: [A.example]\n    servers: [127.0.0.1]\n",
		     "8:15", "already forwarded to backend a");
	expect_error(SRV "backends:\n  - name: a\n    domains: [a.example.]\n"
			 "    servers: [127.0.0.1]\n"
			 "  - name: a\n    domains: [b.example]\n    servers: [127.0.0.1]\n",
		     "7:11", "defined twice");
	expect_error(SRV "backends:\n  - name: a\n    domains: [a.example.]\n"
			 "    servers: [{address: 127.0.0.1, weight: 0}]\n",
		     "6:44", "between 1 and 1000");
	expect_error(SRV "backends:\n  - name: a\n    domains: [a.example.]\n"
			 "    servers: [127.0.0.1]\n    check: {interval: 10ms}\n",
		     "7:23", "at least 100ms");
	expect_error(SRV "backends:\n  - name: a\n    domains: [a.example.]\n"
			 "    servers: [127.0.0.1]\n    cache: {min-ttl: 2h, max-ttl: 1h}\n",
		     "7:12", "min-ttl is above max-ttl");
	expect_error(SRV "backends:\n  - name: a\n    domains: []\n    servers: [127.0.0.1]\n",
		     "5:14", "needs at least one domain");
	/* a zone's own apex cannot also be forwarded */
	expect_error(HEAD "backends:\n  - name: a\n    domains: [example.test.]\n"
			  "    servers: [127.0.0.1]\n",
		     "6:1", "example.test. is also a zone of ours");
	expect_error(HEAD "backends:\n  - name: a\n    domains: [ns.example.test.]\n"
			  "    servers: [127.0.0.1]\n",
		     "6:1", "ns.example.test. has data in a zone of ours");
	/* below a zone, where it has no data: the group takes it */
	struct config *cfg = load_ok(HEAD "backends:\n  - name: a\n    domains: [corp.example.test.]\n"
					  "    servers: [127.0.0.1]\n");
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_fleet),
		cmocka_unit_test(test_yaml_syntax),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_pools_order),
		cmocka_unit_test(test_yaml_shape),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_bad_address),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_alias_loop),
		cmocka_unit_test(test_pool_outside_zone),
		cmocka_unit_test(test_zone_file_error),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_dnstap),
		cmocka_unit_test(test_health_errors),
		cmocka_unit_test(test_monitor_inherit),
		cmocka_unit_test(test_max_entries),
		cmocka_unit_test(test_backends),
		cmocka_unit_test(test_backend_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
