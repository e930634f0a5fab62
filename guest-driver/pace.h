/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pacing and target arithmetic of the esxmm balloon driver: how many
 * guest pages the host's target means, how many pages one step of the
 * worker may move, how the inflation rate and the retry delay react to
 * allocation failures and OOM deflations, and when the worker runs next.
 * No side effects and nothing of virtio, so KUnit tests it directly.
 */
#ifndef ESXMM_BALLOON_PACE_H
#define ESXMM_BALLOON_PACE_H

#include <linux/types.h>

/* The device counts in 4 KiB units whatever the guest's page size. */
#define ESXMM_PACE_UNIT_SHIFT		12

/* Most PFNs (4 KiB units) in one inflate or deflate message. */
#define ESXMM_PACE_BATCH_UNITS		256

/* Rate limit in guest pages per second: default and accepted range. */
#define ESXMM_PACE_RATE_DEFAULT		16384U
#define ESXMM_PACE_RATE_MIN		64U
#define ESXMM_PACE_RATE_MAX		(1U << 22)

/* Period of the target poll, in milliseconds: default and range. */
#define ESXMM_PACE_POLL_MS_DEFAULT	1000U
#define ESXMM_PACE_POLL_MS_MIN		100U
#define ESXMM_PACE_POLL_MS_MAX		60000U

/* One worker step: the rate budget is spent in steps of this length. */
#define ESXMM_PACE_TICK_MS		100U

/* Retry delay after a failed allocation: doubles from MIN up to MAX. */
#define ESXMM_PACE_BACKOFF_MIN_MS	200U
#define ESXMM_PACE_BACKOFF_MAX_MS	10000U

/* Most guest pages given back per OOM notification. */
#define ESXMM_PACE_OOM_PAGES		256U

/**
 * struct esxmm_pace - the adaptive part of the pacing state.
 * @rate: inflation rate now, in guest pages per second; at most the
 *	configured rate, cut to a fraction of it by failures and raised
 *	back by successful steps.
 * @backoff_ms: delay before the next inflation attempt; 0 while
 *	allocations succeed.
 */
struct esxmm_pace {
	unsigned int rate;
	unsigned int backoff_ms;
};

/**
 * esxmm_pace_units_per_page() - 4 KiB device units in one guest page.
 * @page_shift: the guest's PAGE_SHIFT (at least 12).
 *
 * Return: 1 << (page_shift - 12).
 */
unsigned int esxmm_pace_units_per_page(unsigned int page_shift);

/**
 * esxmm_pace_target() - guest pages the balloon should hold.
 * @num_pages: the device's target, in 4 KiB units.
 * @units: esxmm_pace_units_per_page().
 *
 * Rounded down: the balloon never takes more than the host asked for, and
 * a target that is not a whole number of guest pages does not make the
 * worker oscillate around it.
 *
 * Return: the target in guest pages.
 */
unsigned long esxmm_pace_target(u32 num_pages, unsigned int units);

/**
 * esxmm_pace_actual() - the value for the device's @actual field.
 * @pages: guest pages in the balloon.
 * @units: esxmm_pace_units_per_page().
 *
 * Return: @pages in 4 KiB units, saturated at U32_MAX.
 */
u32 esxmm_pace_actual(unsigned long pages, unsigned int units);

/**
 * esxmm_pace_batch() - guest pages for the next inflate or deflate message.
 * @remaining: pages still to move in this step.
 * @units: esxmm_pace_units_per_page().
 *
 * Return: min(@remaining, pages whose PFNs fit one message).
 */
unsigned int esxmm_pace_batch(unsigned long remaining, unsigned int units);

/**
 * esxmm_pace_rate_valid() - whether a rate parameter is acceptable.
 * @rate: guest pages per second.
 *
 * Return: true if ESXMM_PACE_RATE_MIN <= @rate <= ESXMM_PACE_RATE_MAX.
 */
bool esxmm_pace_rate_valid(unsigned int rate);

/**
 * esxmm_pace_poll_valid() - whether a poll period parameter is acceptable.
 * @poll_ms: milliseconds.
 *
 * Return: true if ESXMM_PACE_POLL_MS_MIN <= @poll_ms <= ESXMM_PACE_POLL_MS_MAX.
 */
bool esxmm_pace_poll_valid(unsigned int poll_ms);

/**
 * esxmm_pace_init() - start at the full rate with no backoff.
 * @p: pacing state.
 * @rate_max: the configured rate (guest pages per second).
 */
void esxmm_pace_init(struct esxmm_pace *p, unsigned int rate_max);

/**
 * esxmm_pace_budget() - guest pages one step may move.
 * @p: pacing state.
 * @rate_max: the configured rate now (it may have been lowered since
 *	@p->rate was computed).
 * @inflate: true to inflate (adaptive rate), false to deflate (full rate:
 *	giving memory back never fails and is what the guest wants).
 * @since_ms: time since the previous step began, when steps follow each
 *	other; ESXMM_PACE_TICK_MS otherwise. A late timer or a slow step
 *	then earns a larger budget, so the average rate stays at the limit,
 *	but never more than two ticks' worth at once.
 *
 * Return: rate * clamp(@since_ms, tick, 2 * tick) / 1000, at least 1.
 */
unsigned long esxmm_pace_budget(const struct esxmm_pace *p,
				unsigned int rate_max, bool inflate,
				unsigned int since_ms);

/**
 * esxmm_pace_inflated() - account one inflation step.
 * @p: pacing state.
 * @rate_max: the configured rate.
 * @wanted: pages the step tried to allocate.
 * @got: pages it did allocate.
 *
 * A short step is an allocation failure: the rate is halved (not below
 * ESXMM_PACE_RATE_MIN) and the backoff starts at ESXMM_PACE_BACKOFF_MIN_MS
 * or doubles, up to ESXMM_PACE_BACKOFF_MAX_MS. A full step clears the
 * backoff and doubles the rate back toward @rate_max.
 *
 * Return: true if the step counts as a failure.
 */
bool esxmm_pace_inflated(struct esxmm_pace *p, unsigned int rate_max,
			 unsigned long wanted, unsigned long got);

/**
 * esxmm_pace_oom() - account a deflation forced by the guest's OOM path.
 * @p: pacing state.
 *
 * The guest needed the memory more than the host: inflation waits the
 * longest backoff and restarts at the lowest rate.
 */
void esxmm_pace_oom(struct esxmm_pace *p);

/**
 * esxmm_pace_delay_ms() - when the worker should run next.
 * @p: pacing state after the step.
 * @delta: target minus balloon size after the step, in guest pages.
 * @elapsed_ms: how long the step took.
 * @poll_ms: the poll period.
 *
 * At the target: the next poll. Short of it with a backoff pending: the
 * backoff. Otherwise the rest of the step's tick, so that steps never
 * move more than the rate allows.
 *
 * Return: milliseconds.
 */
unsigned int esxmm_pace_delay_ms(const struct esxmm_pace *p, long delta,
				 unsigned int elapsed_ms, unsigned int poll_ms);

#endif /* ESXMM_BALLOON_PACE_H */
