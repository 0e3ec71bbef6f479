/* http.c -- the `http:` listener: libmicrohttpd in its epoll mode, driven
 * by carouseld's main loop (no extra thread: the API reads health state
 * owned by that loop). Every request passes the allow ACL first; the page
 * and reads need the password when one is set, changes need the API key. */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "www.h"

#define REALM "carousel"

struct http {
	struct MHD_Daemon *d;
	struct metrics_sources src;
	http_command_fn command;
	bool metrics_only;
	unsigned nallow;
	struct acl_entry allow[HTTP_MAX_ALLOW];
	char *user, *password, *api_key; /* NULL: not required */
};

static bool allowed(const struct http *h, const struct sockaddr *sa)
{
	const uint8_t *addr;
	int family;

	if (h->nallow == 0)
		return true;
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		addr = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		family = IN6_IS_ADDR_V4MAPPED(a6) ? AF_INET : AF_INET6;
		addr = family == AF_INET ? a6->s6_addr + 12 : a6->s6_addr;
	} else {
		return false;
	}
	for (unsigned i = 0; i < h->nallow; i++)
		if (acl_match(&h->allow[i], family, addr))
			return true;
	return false;
}

/* Secrets compared in constant time (their lengths are not secret). */
static bool same_secret(const char *given, const char *want)
{
	size_t n = strlen(want);

	return given && strlen(given) == n && CRYPTO_memcmp(given, want, n) == 0;
}

static bool password_ok(const struct http *h, struct MHD_Connection *c)
{
	char *pass = NULL, *user;
	bool ok;

	if (!h->password)
		return true;
	user = MHD_basic_auth_get_username_password(c, &pass);
	/* both compared, whatever the first says */
	bool user_ok = same_secret(user, h->user), pass_ok = same_secret(pass, h->password);

	ok = user_ok && pass_ok;
	if (pass)
		explicit_bzero(pass, strlen(pass));
	MHD_free(user);
	MHD_free(pass);
	return ok;
}

static bool key_ok(const struct http *h, struct MHD_Connection *c)
{
	return h->api_key &&
	       same_secret(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key"), h->api_key);
}

static struct MHD_Response *response(const void *body, size_t len, enum MHD_ResponseMemoryMode mode,
				     const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);

	if (!r)
		return NULL;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "deny");
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; frame-ancestors 'none'");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	return r;
}

static enum MHD_Result send_response(struct MHD_Connection *c, unsigned status,
				     struct MHD_Response *r, bool auth)
{
	enum MHD_Result rc;

	if (!r)
		return MHD_NO;
	rc = auth ? MHD_queue_basic_auth_fail_response(c, REALM, r)
		  : MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	return send_response(c, status,
			     response(text, strlen(text), MHD_RESPMEM_PERSISTENT,
				      "text/plain; charset=utf-8"),
			     false);
}

/* {"error": text} with status; a 401 for the password asks for it. */
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *text,
				  bool ask_password)
{
	char *buf = NULL;
	struct json_out o = {0};

	for (int pass = 0; pass < 2; pass++) {
		o.n = 0;
		json_put(&o, "{\"error\":");
		json_str(&o, text);
		json_put(&o, "}\n");
		if (pass == 0 && !(buf = malloc(o.n + 1)))
			return MHD_NO;
		o.buf = buf;
		o.len = o.n + 1;
	}
	return send_response(c, status,
			     response(buf, o.n, MHD_RESPMEM_MUST_FREE, "application/json"),
			     ask_password);
}

/* Render a document, growing the buffer until it fits. */
static enum MHD_Result send_json(struct MHD_Connection *c, const struct metrics_sources *src,
				 void (*render)(const struct metrics_sources *, struct json_out *))
{
	struct json_out o = {0};

	for (size_t cap = 65536;; cap = o.n + 65536) {
		char *buf = realloc(o.buf, cap);

		if (!buf) {
			free(o.buf);
			return MHD_NO;
		}
		o = (struct json_out){.buf = buf, .len = cap};
		render(src, &o);
		if (o.n + 1 < cap)
			break;
	}
	json_put(&o, "\n");
	return send_response(c, MHD_HTTP_OK,
			     response(o.buf, o.n, MHD_RESPMEM_MUST_FREE, "application/json"), false);
}

static enum MHD_Result send_metrics(struct MHD_Connection *c, const struct metrics_sources *src)
{
	char *buf = NULL;
	size_t n;

	for (size_t cap = 65536;; cap = n + 65536) {
		char *b = realloc(buf, cap);

		if (!b) {
			free(buf);
			return MHD_NO;
		}
		buf = b;
		n = metrics_render(src, buf, cap);
		if (n < cap)
			break;
	}
	return send_response(c, MHD_HTTP_OK,
			     response(buf, n, MHD_RESPMEM_MUST_FREE,
				      "text/plain; version=0.0.4; charset=utf-8"),
			     false);
}

/* POST /api/v1/pools/POOL/members/ADDRESS/drain (or undrain) */
static enum MHD_Result member_action(struct http *h, struct MHD_Connection *c, const char *rest,
				     bool post)
{
	char pool[300], member[64], verb[16], extra, cmd[400], reply[1024];
	bool ok = false;

	if (sscanf(rest, "%299[^/]/members/%63[^/]/%15[a-z]%c", pool, member, verb, &extra) != 3 ||
	    (strcmp(verb, "drain") != 0 && strcmp(verb, "undrain") != 0) ||
	    strpbrk(pool, " \t") || strpbrk(member, " \t"))
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such resource", false);
	if (!post)
		return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "drain and undrain take POST",
				  false);
	if (!h->api_key)
		return send_error(c, MHD_HTTP_FORBIDDEN,
				  "no http.api-key-file is configured: the API changes nothing",
				  false);
	if (!key_ok(h, c))
		return send_error(c, MHD_HTTP_UNAUTHORIZED, "a valid X-API-Key header is required",
				  false);
	snprintf(cmd, sizeof(cmd), "%s %s %s", verb, pool, member);
	size_t n = h->command(cmd, reply, sizeof(reply), &ok);

	if (n >= sizeof(reply))
		n = sizeof(reply) - 1;
	reply[n] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	if (!ok)
		return send_error(c, MHD_HTTP_NOT_FOUND,
				  strncmp(reply, "error: ", 7) == 0 ? reply + 7 : reply, false);
	log_info("event=http-%s pool=%s member=%s", verb, pool, member);
	char *body = malloc(1200);

	if (!body)
		return MHD_NO;
	struct json_out o = {.buf = body, .len = 1200};

	json_put(&o, "{\"ok\":true,\"result\":");
	json_str(&o, reply);
	json_put(&o, "}\n");
	return send_response(c, MHD_HTTP_OK,
			     response(body, strlen(body), MHD_RESPMEM_MUST_FREE, "application/json"),
			     false);
}

static enum MHD_Result api(struct http *h, struct MHD_Connection *c, const char *url, bool get,
			   bool post)
{
	static const struct {
		const char *path;
		void (*render)(const struct metrics_sources *, struct json_out *);
	} docs[] = {{"/api/v1/status", api_status},
		    {"/api/v1/pools", api_pools},
		    {"/api/v1/stats", api_stats}};
	const char *pools = "/api/v1/pools/";

	if (strncmp(url, pools, strlen(pools)) == 0)
		return member_action(h, c, url + strlen(pools), post);
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		if (strcmp(url, docs[i].path) != 0)
			continue;
		if (!get)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
					  "this resource takes GET", false);
		/* reads need the password (or the key) when one is set */
		if (h->password && !key_ok(h, c) && !password_ok(h, c))
			return send_error(c, MHD_HTTP_UNAUTHORIZED,
					  "the password or a valid X-API-Key is required", true);
		return send_json(c, &h->src, docs[i].render);
	}
	return send_error(c, MHD_HTTP_NOT_FOUND, "no such resource", false);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **req)
{
	static int seen;
	struct http *h = cls;
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	bool post = strcmp(method, "POST") == 0;
	const union MHD_ConnectionInfo *ci;

	(void)version;
	(void)upload;
	/* first call: headers only; then a body (ignored); then the answer */
	if (!*req) {
		*req = &seen;
		return MHD_YES;
	}
	if (*upload_len) {
		*upload_len = 0;
		return MHD_YES;
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!allowed(h, ci ? ci->client_addr : NULL))
		return send_text(c, MHD_HTTP_FORBIDDEN, "forbidden: not in http.allow\n");
	if (h->metrics_only) {
		if (!get)
			return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics\n");
		if (strcmp(url, "/metrics") != 0)
			return send_text(c, MHD_HTTP_NOT_FOUND, "Carousel exposes GET /metrics\n");
		return send_metrics(c, &h->src);
	}
	if (strncmp(url, "/api/", 5) == 0)
		return api(h, c, url, get, post);
	if (!get)
		return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET here\n");
	if (!password_ok(h, c))
		return send_response(c, MHD_HTTP_UNAUTHORIZED,
				     response("password required\n", 18, MHD_RESPMEM_PERSISTENT,
					      "text/plain; charset=utf-8"),
				     true);
	if (strcmp(url, "/metrics") == 0)
		return send_metrics(c, &h->src);
	for (unsigned i = 0; i < www_nassets; i++)
		if (strcmp(url, www_assets[i].path) == 0)
			return send_response(c, MHD_HTTP_OK,
					     response(www_assets[i].body, www_assets[i].len,
						      MHD_RESPMEM_PERSISTENT, www_assets[i].type),
					     false);
	return send_text(c, MHD_HTTP_NOT_FOUND, "not found: try /, /api/v1/status or /metrics\n");
}

static char *dup_secret(const char *s)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		abort();
	return d;
}

struct http *http_start(const struct http_config *cfg, const struct metrics_sources *src,
			http_command_fn command)
{
	struct http *h = calloc(1, sizeof(*h));
	const struct listen_addr *addr = &cfg->listen;

	if (!h)
		abort();
	h->src = *src;
	h->command = command;
	h->metrics_only = cfg->metrics_only;
	h->nallow = cfg->nallow;
	memcpy(h->allow, cfg->allow, sizeof(h->allow));
	h->user = dup_secret(cfg->user);
	h->password = dup_secret(cfg->password);
	h->api_key = dup_secret(cfg->api_key);
	unsigned flags = MHD_USE_EPOLL | (addr->ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);

	h->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR, &addr->ss,
				MHD_OPTION_CONNECTION_TIMEOUT, 5u, MHD_OPTION_CONNECTION_LIMIT,
				64u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
				MHD_OPTION_END);
	if (!h->d) {
		log_error("event=http listen=%s error=\"cannot listen (address in use?)\"",
			  addr->text);
		http_stop(h);
		return NULL;
	}
	if (cfg->metrics_only)
		log_warn("event=http listen=%s path=/metrics note=\"metrics: is the old name of "
			 "http:, which adds the status page and the JSON API; rename it\"",
			 addr->text);
	else
		log_info("event=http listen=%s paths=/,/api/v1/,/metrics password=%s api-key=%s "
			 "allow=%s",
			 addr->text, h->password ? "yes" : "no", h->api_key ? "yes" : "no",
			 h->nallow ? "acl" : "any");
	return h;
}

int http_fd(const struct http *h)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);

	return i ? i->epoll_fd : -1;
}

void http_run(struct http *h)
{
	MHD_run(h->d);
}

static void free_secret(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

void http_stop(struct http *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	free_secret(h->user);
	free_secret(h->password);
	free_secret(h->api_key);
	free(h);
}
