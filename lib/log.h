/* log.h -- one line per event, key=value, to stderr (systemd-friendly). */
#ifndef CAROUSEL_LOG_H
#define CAROUSEL_LOG_H

#include <stdio.h>

#define log_info(fmt, ...) fprintf(stderr, "level=info " fmt "\n", ##__VA_ARGS__)
#define log_warn(fmt, ...) fprintf(stderr, "level=warn " fmt "\n", ##__VA_ARGS__)
#define log_error(fmt, ...) fprintf(stderr, "level=error " fmt "\n", ##__VA_ARGS__)

#endif
