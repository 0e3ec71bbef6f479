/* ctl.h -- the control socket: one text command per connection
 * ("status", "reload", "stats"); the reply's first line is "ok" or
 * "error: ...", then the command's output. */
#ifndef CAROUSEL_CTL_H
#define CAROUSEL_CTL_H

#include <stdbool.h>

#include "server.h"

struct ctl_ops {
	/* Reload the config; on failure write the reason into err. */
	int (*reload)(struct server *srv, char *err, size_t err_len);
	/* Optional: more lines for `stats` and `status` (the fast path). */
	size_t (*stats_extra)(char *buf, size_t len);
	size_t (*status_extra)(char *buf, size_t len);
	/* Optional: commands the control module does not know ("cache ...").
	 * Returns bytes written; *ok false makes it an error reply. Returns
	 * (size_t)-1 when the command is unknown there too. */
	size_t (*command)(const char *cmd, char *buf, size_t len, bool *ok);
};

/* The most a module's command may answer (ops->command's len). */
#define CTL_REPLY_MAX (32u << 20)

int ctl_open(const char *path);
/* Serve one client connection of the listening socket. */
void ctl_serve(int listen_fd, struct server *srv, const struct ctl_ops *ops);

#endif
