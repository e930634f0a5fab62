// SPDX-License-Identifier: GPL-2.0
/*
 * libvirt's event loop interface (virEventRegisterImpl) on a poll() of our own.
 *
 * libvirt needs an event loop for domain events, the close callback and keepalive. Its
 * default one cannot wait for POLLPRI, which is how sysfs_notify() wakes a reader of
 * balloon_target_pages, so the agent runs this one instead: one thread, one poll() over
 * libvirt's handles and the agent's fds, libvirt's timers folded into the timeout. Callbacks
 * may add, change or remove handles and timers; removed ones are only marked, and freed (their
 * free function called) after the dispatch, as libvirt requires.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "balloond.h"

struct handle {
	int watch, fd, events;		/* events: VIR_EVENT_HANDLE_* */
	virEventHandleCallback cb;
	void *opaque;
	virFreeCallback ff;
	int deleted;
};

struct timer {
	int id, interval;		/* interval: ms, -1 = disabled, 0 = every iteration */
	int64_t last;
	virEventTimeoutCallback cb;
	void *opaque;
	virFreeCallback ff;
	int deleted;
};

static struct handle *handles;
static size_t nhandles, handles_cap;
static struct timer *timers;
static size_t ntimers, timers_cap;
static int next_id = 1;

static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	p = realloc(*arr, ncap * size);
	if (!p)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int add_handle(int fd, int events, virEventHandleCallback cb, void *opaque,
		      virFreeCallback ff)
{
	struct handle *h;

	if (grow((void **)&handles, &handles_cap, nhandles + 1, sizeof(*handles)))
		return -1;
	h = &handles[nhandles++];
	*h = (struct handle){ .watch = next_id++, .fd = fd, .events = events, .cb = cb,
			      .opaque = opaque, .ff = ff };
	return h->watch;
}

static struct handle *find_handle(int watch)
{
	size_t i;

	for (i = 0; i < nhandles; i++)
		if (handles[i].watch == watch && !handles[i].deleted)
			return &handles[i];
	return NULL;
}

static void update_handle(int watch, int events)
{
	struct handle *h = find_handle(watch);

	if (h)
		h->events = events;
}

static int remove_handle(int watch)
{
	struct handle *h = find_handle(watch);

	if (!h)
		return -1;
	h->deleted = 1;
	return 0;
}

static int add_timer(int interval, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff)
{
	struct timer *t;

	if (grow((void **)&timers, &timers_cap, ntimers + 1, sizeof(*timers)))
		return -1;
	t = &timers[ntimers++];
	*t = (struct timer){ .id = next_id++, .interval = interval, .last = bd_now_ms(),
			     .cb = cb, .opaque = opaque, .ff = ff };
	return t->id;
}

static struct timer *find_timer(int id)
{
	size_t i;

	for (i = 0; i < ntimers; i++)
		if (timers[i].id == id && !timers[i].deleted)
			return &timers[i];
	return NULL;
}

static void update_timer(int id, int interval)
{
	struct timer *t = find_timer(id);

	if (t) {
		t->interval = interval;
		t->last = bd_now_ms();
	}
}

static int remove_timer(int id)
{
	struct timer *t = find_timer(id);

	if (!t)
		return -1;
	t->deleted = 1;
	return 0;
}

int bd_evloop_register(void)
{
	virEventRegisterImpl(add_handle, update_handle, remove_handle, add_timer, update_timer,
			     remove_timer);
	return 0;
}

static short to_poll(int ev)
{
	return (ev & VIR_EVENT_HANDLE_READABLE ? POLLIN : 0) |
	       (ev & VIR_EVENT_HANDLE_WRITABLE ? POLLOUT : 0);
}

static int from_poll(short rev)
{
	return (rev & POLLIN ? VIR_EVENT_HANDLE_READABLE : 0) |
	       (rev & POLLOUT ? VIR_EVENT_HANDLE_WRITABLE : 0) |
	       (rev & POLLERR ? VIR_EVENT_HANDLE_ERROR : 0) |
	       (rev & (POLLHUP | POLLNVAL) ? VIR_EVENT_HANDLE_HANGUP : 0);
}

/* Free what callbacks removed: call the free functions after all dispatching. */
static void purge(void)
{
	size_t i, j;

	for (i = j = 0; i < nhandles; i++) {
		if (handles[i].deleted) {
			if (handles[i].ff)
				handles[i].ff(handles[i].opaque);
			continue;
		}
		handles[j++] = handles[i];
	}
	nhandles = j;
	for (i = j = 0; i < ntimers; i++) {
		if (timers[i].deleted) {
			if (timers[i].ff)
				timers[i].ff(timers[i].opaque);
			continue;
		}
		timers[j++] = timers[i];
	}
	ntimers = j;
}

int bd_evloop_run_once(struct pollfd *extra, size_t nextra, int timeout_ms)
{
	struct pollfd *fds;
	int *watches;
	size_t i, n = 0, nh = nhandles, nt;
	int64_t now = bd_now_ms();
	int ret, saved;

	for (i = 0; i < ntimers; i++) {
		int64_t due;

		if (timers[i].deleted || timers[i].interval < 0)
			continue;
		due = timers[i].last + timers[i].interval - now;
		if (due < 0)
			due = 0;
		if (timeout_ms < 0 || due < timeout_ms)
			timeout_ms = (int)due;
	}

	fds = calloc(nh + nextra + 1, sizeof(*fds));
	watches = calloc(nh + 1, sizeof(*watches));
	if (!fds || !watches) {
		free(fds);
		free(watches);
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < nh; i++) {
		if (handles[i].deleted || handles[i].fd < 0 || !handles[i].events)
			continue;
		fds[n].fd = handles[i].fd;
		fds[n].events = to_poll(handles[i].events);
		watches[n++] = handles[i].watch;
	}
	for (i = 0; i < nextra; i++)
		fds[n + i] = extra[i];

	ret = poll(fds, n + nextra, timeout_ms);
	saved = errno;
	if (ret < 0 && saved != EINTR)
		goto out;

	for (i = 0; ret > 0 && i < n; i++) {
		struct handle *h;

		if (!fds[i].revents)
			continue;
		h = find_handle(watches[i]);
		if (h && h->events)
			h->cb(h->watch, h->fd, from_poll(fds[i].revents), h->opaque);
	}
	for (i = 0; i < nextra; i++)
		extra[i].revents = ret > 0 ? fds[n + i].revents : 0;

	now = bd_now_ms();
	nt = ntimers;
	for (i = 0; i < nt; i++) {
		struct timer *t = &timers[i];

		if (t->deleted || t->interval < 0 || t->last + t->interval > now)
			continue;
		t->last = now;
		/* the callback may add timers (and move the array): take what we need first */
		{
			virEventTimeoutCallback cb = t->cb;
			void *opaque = t->opaque;
			int id = t->id;

			cb(id, opaque);
		}
	}
	if (ret < 0)
		ret = 0;	/* EINTR: a signal; the caller looks at its fds anyway */
out:
	purge();
	free(fds);
	free(watches);
	errno = saved;
	return ret;
}
