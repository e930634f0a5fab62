// SPDX-License-Identifier: GPL-2.0
/*
 * Logging: one line per message on stderr. Under systemd (JOURNAL_STREAM set) each line starts
 * with "<N>", the syslog priority, which journald takes as the message's level; elsewhere
 * with the program's name and the level's name. libvirt's own error printing is turned off
 * (see agent.c): its messages reach the log through bd_virt_error() in ours.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <libvirt/virterror.h>

#include "balloond.h"

int bd_log_level = BD_INFO;
void (*bd_log_hook)(int level, const char *msg);

static const char *const level_names[] = {
	[BD_ERR] = "error", [BD_WARNING] = "warning", [BD_NOTICE] = "notice",
	[BD_INFO] = "info", [BD_DEBUG] = "debug",
};

void bd_log(int level, const char *fmt, ...)
{
	static int journal = -1;
	char msg[2048];
	va_list ap;

	if (level > bd_log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (bd_log_hook) {
		bd_log_hook(level, msg);
		return;
	}
	if (journal < 0)
		journal = getenv("JOURNAL_STREAM") != NULL;
	if (journal)
		fprintf(stderr, "<%d>%s\n", level, msg);
	else
		fprintf(stderr, BD_NAME ": %s: %s\n", level_names[level], msg);
}

const char *bd_virt_error(void)
{
	const char *m = virGetLastErrorMessage();

	return m ? m : "unknown libvirt error";
}

int64_t bd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
