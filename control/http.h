/* http.h -- the `http:` listener (libmicrohttpd, driven by carouseld's main
 * loop): the status page, the JSON API and the Prometheus /metrics, behind
 * an allow ACL, basic auth and an API key (docs/configuration.md, "http"). */
#ifndef CAROUSEL_HTTP_H
#define CAROUSEL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "metrics.h"

struct http;

/* Drain or undrain a member: the health module's control command
 * ("drain POOL MEMBER"); returns bytes written, *ok false on an error. */
typedef size_t (*http_command_fn)(const char *cmd, char *buf, size_t len, bool *ok);

/* Listen as cfg says (settings are copied: they last until restart).
 * NULL (logged) when it cannot. */
struct http *http_start(const struct http_config *cfg, const struct metrics_sources *src,
			http_command_fn command);
/* Watch this fd; call http_run() when it is readable, and now and then. */
int http_fd(const struct http *h);
void http_run(struct http *h);
void http_stop(struct http *h);

#endif
