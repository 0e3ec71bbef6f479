/* probe.h -- one health check of one member as a non-blocking state
 * machine (tcp, http(s), pop3(s), imap(s), smtp, dns, exec). The caller
 * polls probe_fd() for probe_events(), calls probe_run() when it is ready,
 * and owns the deadline. */
#ifndef CAROUSEL_PROBE_H
#define CAROUSEL_PROBE_H

#include <openssl/ssl.h>
#include <stdint.h>

#include "config.h"

#define PROBE_REASON_LEN 120

enum probe_result { PROBE_MORE, PROBE_OK, PROBE_FAIL };

struct probe;

/* Start checking member m (of pool, for exec's environment) with mon;
 * *result is PROBE_MORE, or PROBE_FAIL with reason set. Never NULL. */
struct probe *probe_start(const struct monitor *mon, const struct member *m, const char *pool,
			  SSL_CTX *tls, char *reason, int *result);
int probe_fd(const struct probe *pr);
uint32_t probe_events(const struct probe *pr); /* EPOLLIN or EPOLLOUT */
/* Go on as far as possible without blocking; PROBE_OK/PROBE_FAIL set
 * reason (what the server said, sanitised). */
int probe_run(struct probe *pr, char *reason);
/* Close the socket, kill the command (NULL is fine). */
void probe_free(struct probe *pr);
/* The port checked: the monitor's, or its type's well-known one. */
uint16_t probe_port(const struct monitor *mon);

#endif
