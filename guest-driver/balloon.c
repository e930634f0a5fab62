// SPDX-License-Identifier: GPL-2.0
/*
 * esxmm_balloon: a guest driver for the virtio memory balloon (device ID 5,
 * QEMU's virtio-balloon-pci), paced like the balloon driver of VMware ESX.
 *
 * DOC: Overview
 *
 * The host writes a target (num_pages, in 4 KiB units) into the device's
 * configuration space. A worker moves the balloon toward it: to inflate it
 * allocates guest pages that the page allocator may refuse at once (no
 * retries, no emergency reserves, never the OOM killer), keeps them on the
 * balloon's page list and sends their frame numbers on the inflate queue;
 * to deflate it sends the frame numbers on the deflate queue and frees the
 * pages only once the host has seen them (MUST_TELL_HOST). After each step
 * it writes the balloon's size to the device's actual field.
 *
 * The worker runs when the host signals a configuration change and polls
 * the target every poll_ms anyway. It moves at most rate_pages_per_sec
 * pages a second, in steps of ESXMM_PACE_TICK_MS. A step that cannot
 * allocate all it wanted halves the inflation rate and waits before the
 * next try, twice as long after each further failure; successful steps
 * bring the rate back (pace.c holds this arithmetic).
 *
 * With DEFLATE_ON_OOM the guest's OOM path may take pages back before it
 * kills anything: the notifier deflates up to ESXMM_PACE_OOM_PAGES per
 * call, and inflation then waits the longest backoff. Without it the
 * ballooned pages are taken out of the guest's managed memory, so that
 * MemTotal shows what the guest really has.
 *
 * Ballooned pages are movable: compaction may migrate one, and the driver
 * then tells the host about the new frame and gives the old one back.
 *
 * Memory statistics go out on the stats queue whenever the host returns
 * the buffer, which is how it asks for them.
 */
#include <linux/balloon_compaction.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/idr.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/oom.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/vmstat.h>
#include <linux/virtio.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "pace.h"

static unsigned int rate_pages_per_sec = ESXMM_PACE_RATE_DEFAULT;
static unsigned int poll_ms = ESXMM_PACE_POLL_MS_DEFAULT;

static int rate_set(const char *val, const struct kernel_param *kp)
{
	unsigned int v;

	if (kstrtouint(val, 0, &v) || !esxmm_pace_rate_valid(v)) {
		pr_err("rate_pages_per_sec=%.*s refused: must be %u..%u\n",
		       (int)strcspn(val, "\n"), val, ESXMM_PACE_RATE_MIN, ESXMM_PACE_RATE_MAX);
		return -EINVAL;
	}
	WRITE_ONCE(*(unsigned int *)kp->arg, v);
	return 0;
}

static int poll_set(const char *val, const struct kernel_param *kp)
{
	unsigned int v;

	if (kstrtouint(val, 0, &v) || !esxmm_pace_poll_valid(v)) {
		pr_err("poll_ms=%.*s refused: must be %u..%u\n",
		       (int)strcspn(val, "\n"), val, ESXMM_PACE_POLL_MS_MIN, ESXMM_PACE_POLL_MS_MAX);
		return -EINVAL;
	}
	WRITE_ONCE(*(unsigned int *)kp->arg, v);
	return 0;
}

static const struct kernel_param_ops rate_ops = {
	.set = rate_set,
	.get = param_get_uint,
};

static const struct kernel_param_ops poll_ops = {
	.set = poll_set,
	.get = param_get_uint,
};

module_param_cb(rate_pages_per_sec, &rate_ops, &rate_pages_per_sec, 0644);
MODULE_PARM_DESC(rate_pages_per_sec,
		 "most pages inflated or deflated per second (64..4194304, default 16384)");
module_param_cb(poll_ms, &poll_ops, &poll_ms, 0644);
MODULE_PARM_DESC(poll_ms,
		 "period of the target poll in ms (100..60000, default 1000)");

enum {
	VQ_INFLATE,
	VQ_DEFLATE,
	VQ_STATS,
	NR_VQS
};

static DEFINE_IDA(balloon_ida);

/**
 * struct esxmm_balloon - one balloon device.
 * @vdev: the virtio device.
 * @inflate_vq: frame numbers of pages the guest gives up.
 * @deflate_vq: frame numbers of pages the guest takes back.
 * @stats_vq: memory statistics, NULL without F_STATS_VQ.
 * @units: 4 KiB device units per guest page.
 * @oom_feature: F_DEFLATE_ON_OOM was negotiated.
 * @stop_lock: protects @stopped; taken in interrupt context.
 * @stopped: no work may be queued (remove, freeze).
 * @size_work: the worker that moves the balloon toward the target.
 * @stats_work: answers a stats request.
 * @acked: woken when the host returns an inflate or deflate buffer.
 * @lock: protects everything below and the use of the inflate and
 *	deflate queues. Taken before @pages.pages_lock; never held across
 *	a page allocation.
 * @pages: the balloon's pages (list, lock and migration hook of
 *	balloon_compaction).
 * @vqs_ready: the queues exist and the device is live.
 * @nr_pages: guest pages in the balloon.
 * @actual: the value last written to the device's actual field.
 * @pace: adaptive rate and backoff (pace.h).
 * @retry_at: jiffies before which no inflation is tried (backoff).
 * @step_start: jiffies when the last step began.
 * @stepping: the last run moved pages and asked for the next step.
 * @oom_events: OOM notifications that gave pages back.
 * @pfns: frame numbers of one inflate or deflate message.
 * @target_pages: the target as last read, in guest pages.
 * @inflated_total: pages ever inflated.
 * @deflated_total: pages ever deflated, including by OOM.
 * @alloc_failures: inflation steps cut short by the allocator.
 * @oom_deflations: pages given back to the OOM path.
 * @migrated_pages: ballooned pages moved by compaction.
 * @stats_sent: stats buffers sent (written by @stats_work only).
 * @stats: the stats buffer; the host owns it between requests.
 * @events: scratch for all_vm_events() (used by @stats_work only).
 * @oom_nb: the OOM notifier.
 * @debugfs: our debugfs directory.
 * @id: index of the device among ours, names the debugfs directory.
 */
struct esxmm_balloon {
	struct virtio_device *vdev;
	struct virtqueue *inflate_vq;
	struct virtqueue *deflate_vq;
	struct virtqueue *stats_vq;
	unsigned int units;
	bool oom_feature;

	spinlock_t stop_lock;
	bool stopped;
	struct delayed_work size_work;
	struct work_struct stats_work;
	wait_queue_head_t acked;

	struct mutex lock;
	struct balloon_dev_info pages;
	bool vqs_ready;
	unsigned long nr_pages;
	u32 actual;
	struct esxmm_pace pace;
	unsigned long retry_at;
	unsigned long step_start;
	bool stepping;
	unsigned long oom_events;
	__virtio32 pfns[ESXMM_PACE_BATCH_UNITS];

	unsigned long target_pages;
	unsigned long inflated_total;
	unsigned long deflated_total;
	unsigned long alloc_failures;
	unsigned long oom_deflations;
	unsigned long migrated_pages;
	unsigned long stats_sent;

	struct virtio_balloon_stat stats[VIRTIO_BALLOON_S_NR];
	unsigned long events[NR_VM_EVENT_ITEMS];

	struct notifier_block oom_nb;
	struct dentry *debugfs;
	int id;
};

static void balloon_ack(struct virtqueue *vq)
{
	struct esxmm_balloon *b = vq->vdev->priv;

	wake_up(&b->acked);
}

/* Put the frames of @page into @b->pfns from index @at; return the next index. */
static unsigned int add_pfns(struct esxmm_balloon *b, unsigned int at,
			     struct page *page)
{
	u64 first = (u64)page_to_pfn(page) * b->units;
	unsigned int i;

	for (i = 0; i < b->units; i++)
		b->pfns[at + i] = cpu_to_virtio32(b->vdev, (u32)(first + i));
	return at + b->units;
}

/*
 * Send @n frame numbers from @b->pfns on @vq and wait until the host has
 * processed them. Called with @b->lock held.
 */
static int tell_host(struct esxmm_balloon *b, struct virtqueue *vq,
		     unsigned int n)
{
	struct scatterlist sg;
	unsigned int len;
	int err;

	lockdep_assert_held(&b->lock);
	sg_init_one(&sg, b->pfns, n * sizeof(b->pfns[0]));
	/* One descriptor on a queue we keep empty: no allocation, no -ENOSPC. */
	err = virtqueue_add_outbuf(vq, &sg, 1, b, GFP_KERNEL);
	if (err) {
		dev_err_ratelimited(&b->vdev->dev, "%s queue: %d\n",
				    vq == b->inflate_vq ? "inflate" : "deflate",
				    err);
		return err;
	}
	virtqueue_kick(vq);
	wait_event(b->acked, virtqueue_get_buf(vq, &len) ||
		   virtqueue_is_broken(vq));
	return 0;
}

/* Tell the device the balloon's size, if it changed since last time. */
static void write_actual(struct esxmm_balloon *b, bool force)
{
	u32 actual = esxmm_pace_actual(b->nr_pages, b->units);

	lockdep_assert_held(&b->lock);
	if (actual == b->actual && !force)
		return;
	virtio_cwrite_le(b->vdev, struct virtio_balloon_config, actual, &actual);
	b->actual = actual;
}

/* The device takes 32-bit frame numbers: a page above 16 TiB cannot go in. */
static bool pfn_fits(struct esxmm_balloon *b, struct page *page)
{
	return (u64)(page_to_pfn(page) + 1) * b->units - 1 <= U32_MAX;
}

/* Allocate up to @want pages and balloon them. Return: pages ballooned. */
static unsigned int inflate_batch(struct esxmm_balloon *b, unsigned int want)
{
	unsigned int got = 0, n = 0;
	struct page *page;
	LIST_HEAD(list);

	/*
	 * balloon_page_alloc() asks for GFP_HIGHUSER_MOVABLE with
	 * __GFP_NORETRY | __GFP_NOWARN | __GFP_NOMEMALLOC: one pass of
	 * reclaim at most, no reserves, no OOM killer. The pages are movable
	 * because we give compaction a way to move them (balloon_migrate()).
	 */
	while (got < want) {
		page = balloon_page_alloc();
		if (!page)
			break;
		if (!pfn_fits(b, page)) {
			__free_page(page);
			break;
		}
		list_add(&page->lru, &list);
		got++;
	}
	if (!got)
		return 0;

	mutex_lock(&b->lock);
	list_for_each_entry(page, &list, lru) {
		n = add_pfns(b, n, page);
		if (!b->oom_feature)
			adjust_managed_page_count(page, -1);
	}
	balloon_page_list_enqueue(&b->pages, &list);
	b->nr_pages += got;
	b->inflated_total += got;
	tell_host(b, b->inflate_vq, n);
	mutex_unlock(&b->lock);
	return got;
}

/*
 * Take up to @want pages out of the balloon, tell the host, free them.
 * Called with @b->lock held. Return: pages freed (fewer than asked when
 * compaction has some isolated).
 */
static unsigned int deflate_batch(struct esxmm_balloon *b, unsigned int want)
{
	struct page *page, *next;
	unsigned int got, n = 0;
	LIST_HEAD(list);

	lockdep_assert_held(&b->lock);
	want = min_t(unsigned long, want, b->nr_pages);
	if (!want)
		return 0;
	got = balloon_page_list_dequeue(&b->pages, &list, want);
	if (!got)
		return 0;
	list_for_each_entry(page, &list, lru)
		n = add_pfns(b, n, page);
	/* The host must hear of the pages before the guest reuses them. */
	tell_host(b, b->deflate_vq, n);
	b->nr_pages -= got;
	b->deflated_total += got;

	list_for_each_entry_safe(page, next, &list, lru) {
		list_del(&page->lru);
		if (!b->oom_feature)
			adjust_managed_page_count(page, 1);
		put_page(page);
	}
	return got;
}

/* Deflate up to @want pages in messages of at most one batch. */
static unsigned long deflate_pages(struct esxmm_balloon *b, unsigned long want)
{
	unsigned long done = 0;
	unsigned int n, got;

	lockdep_assert_held(&b->lock);
	while (done < want) {
		n = esxmm_pace_batch(want - done, b->units);
		got = deflate_batch(b, n);
		done += got;
		if (got < n)
			break;
	}
	return done;
}

static void inflate_step(struct esxmm_balloon *b, unsigned long delta,
			 unsigned int rate, unsigned int since_ms)
{
	unsigned long budget, done = 0, oom_seen;
	unsigned int n, got;

	mutex_lock(&b->lock);
	budget = min(delta, esxmm_pace_budget(&b->pace, rate, true, since_ms));
	oom_seen = b->oom_events;
	mutex_unlock(&b->lock);

	while (done < budget && !READ_ONCE(b->stopped) &&
	       READ_ONCE(b->oom_events) == oom_seen) {
		n = esxmm_pace_batch(budget - done, b->units);
		got = inflate_batch(b, n);
		done += got;
		if (got < n)
			break;
		cond_resched();
	}

	mutex_lock(&b->lock);
	/* An OOM deflation meanwhile already set the backoff: keep it. */
	if (b->oom_events == oom_seen &&
	    esxmm_pace_inflated(&b->pace, rate, budget, done)) {
		b->alloc_failures++;
		b->retry_at = jiffies + msecs_to_jiffies(b->pace.backoff_ms);
		dev_info_ratelimited(&b->vdev->dev,
				     "allocated %lu of %lu pages, retrying in %u ms\n",
				     done, budget, b->pace.backoff_ms);
	}
	mutex_unlock(&b->lock);
}

static void deflate_step(struct esxmm_balloon *b, unsigned long delta,
			 unsigned int rate, unsigned int since_ms)
{
	unsigned long budget;

	mutex_lock(&b->lock);
	budget = min(delta, esxmm_pace_budget(&b->pace, rate, false, since_ms));
	deflate_pages(b, budget);
	mutex_unlock(&b->lock);
}

static void size_work_fn(struct work_struct *work)
{
	struct esxmm_balloon *b = container_of(to_delayed_work(work),
					       struct esxmm_balloon, size_work);
	unsigned int rate = READ_ONCE(rate_pages_per_sec);
	unsigned long start = jiffies, target, flags;
	unsigned int delay, since;
	bool held;
	long delta;
	u32 num;

	virtio_cread_le(b->vdev, struct virtio_balloon_config, num_pages, &num);
	target = esxmm_pace_target(num, b->units);

	mutex_lock(&b->lock);
	b->target_pages = target;
	delta = (long)(target - b->nr_pages);
	held = delta > 0 && time_before(jiffies, b->retry_at);
	/* Steps in a row earn the time since the last one (pace.h). */
	since = b->stepping ? jiffies_to_msecs(start - b->step_start) : ESXMM_PACE_TICK_MS;
	b->stepping = false;
	b->step_start = start;
	mutex_unlock(&b->lock);

	if (delta > 0 && !held)
		inflate_step(b, delta, rate, since);
	else if (delta < 0)
		deflate_step(b, -delta, rate, since);

	mutex_lock(&b->lock);
	write_actual(b, false);
	delta = (long)(target - b->nr_pages);
	if (delta > 0 && time_before(jiffies, b->retry_at))
		delay = jiffies_to_msecs(b->retry_at - jiffies);
	else
		delay = esxmm_pace_delay_ms(&b->pace, delta,
					    jiffies_to_msecs(jiffies - start),
					    READ_ONCE(poll_ms));
	b->stepping = delta && !held && delay <= ESXMM_PACE_TICK_MS;
	mutex_unlock(&b->lock);

	spin_lock_irqsave(&b->stop_lock, flags);
	if (!b->stopped)
		queue_delayed_work(system_freezable_wq, &b->size_work,
				   msecs_to_jiffies(delay));
	spin_unlock_irqrestore(&b->stop_lock, flags);
}

static void balloon_changed(struct virtio_device *vdev)
{
	struct esxmm_balloon *b = vdev->priv;
	unsigned long flags;

	spin_lock_irqsave(&b->stop_lock, flags);
	if (!b->stopped)
		mod_delayed_work(system_freezable_wq, &b->size_work, 0);
	spin_unlock_irqrestore(&b->stop_lock, flags);
}

static unsigned int put_stat(struct esxmm_balloon *b, unsigned int i,
			     u16 tag, u64 val)
{
	b->stats[i].tag = cpu_to_virtio16(b->vdev, tag);
	b->stats[i].val = cpu_to_virtio64(b->vdev, val);
	return i + 1;
}

/* Fill @b->stats; return the number of entries. */
static unsigned int fill_stats(struct esxmm_balloon *b)
{
	struct sysinfo si;
	unsigned int i = 0;

	si_meminfo(&si);
#ifdef CONFIG_VM_EVENT_COUNTERS
	all_vm_events(b->events);
	i = put_stat(b, i, VIRTIO_BALLOON_S_SWAP_IN,
		     (u64)b->events[PSWPIN] << PAGE_SHIFT);
	i = put_stat(b, i, VIRTIO_BALLOON_S_SWAP_OUT,
		     (u64)b->events[PSWPOUT] << PAGE_SHIFT);
	i = put_stat(b, i, VIRTIO_BALLOON_S_MAJFLT, b->events[PGMAJFAULT]);
	i = put_stat(b, i, VIRTIO_BALLOON_S_MINFLT, b->events[PGFAULT]);
#endif
	i = put_stat(b, i, VIRTIO_BALLOON_S_MEMFREE,
		     (u64)si.freeram * si.mem_unit);
	i = put_stat(b, i, VIRTIO_BALLOON_S_MEMTOT,
		     (u64)si.totalram * si.mem_unit);
	i = put_stat(b, i, VIRTIO_BALLOON_S_AVAIL,
		     (u64)si_mem_available() << PAGE_SHIFT);
	i = put_stat(b, i, VIRTIO_BALLOON_S_CACHES,
		     (u64)global_node_page_state(NR_FILE_PAGES) << PAGE_SHIFT);
#if defined(CONFIG_VM_EVENT_COUNTERS) && defined(CONFIG_HUGETLB_PAGE)
	i = put_stat(b, i, VIRTIO_BALLOON_S_HTLB_PGALLOC,
		     b->events[HTLB_BUDDY_PGALLOC]);
	i = put_stat(b, i, VIRTIO_BALLOON_S_HTLB_PGFAIL,
		     b->events[HTLB_BUDDY_PGALLOC_FAIL]);
#endif
	return i;
}

/* Hand the stats buffer to the host; it keeps it until it wants new figures. */
static int send_stats(struct esxmm_balloon *b)
{
	struct scatterlist sg;
	int err;

	sg_init_one(&sg, b->stats, fill_stats(b) * sizeof(b->stats[0]));
	err = virtqueue_add_outbuf(b->stats_vq, &sg, 1, b, GFP_KERNEL);
	if (!err)
		b->stats_sent++;
	return err;
}

static void stats_work_fn(struct work_struct *work)
{
	struct esxmm_balloon *b = container_of(work, struct esxmm_balloon,
					       stats_work);
	unsigned int len;

	if (!virtqueue_get_buf(b->stats_vq, &len))
		return;
	if (!send_stats(b))
		virtqueue_kick(b->stats_vq);
}

static void stats_request(struct virtqueue *vq)
{
	struct esxmm_balloon *b = vq->vdev->priv;
	unsigned long flags;

	spin_lock_irqsave(&b->stop_lock, flags);
	if (!b->stopped)
		queue_work(system_freezable_wq, &b->stats_work);
	spin_unlock_irqrestore(&b->stop_lock, flags);
}

static int oom_notify(struct notifier_block *nb, unsigned long unused,
		      void *arg)
{
	struct esxmm_balloon *b = container_of(nb, struct esxmm_balloon, oom_nb);
	unsigned long *freed = arg;
	unsigned long got = 0;

	mutex_lock(&b->lock);
	if (b->vqs_ready)
		got = deflate_pages(b, ESXMM_PACE_OOM_PAGES);
	if (got) {
		b->oom_events++;
		b->oom_deflations += got;
		esxmm_pace_oom(&b->pace);
		b->retry_at = jiffies + msecs_to_jiffies(b->pace.backoff_ms);
		write_actual(b, false);
	}
	mutex_unlock(&b->lock);
	*freed += got;
	return NOTIFY_OK;
}

#ifdef CONFIG_BALLOON_COMPACTION
/*
 * Compaction moves ballooned page @page to @newpage (both locked): the new
 * frame joins the balloon and is reported, then the old one is deflated.
 */
static int balloon_migrate(struct balloon_dev_info *info, struct page *newpage,
			struct page *page, enum migrate_mode mode)
{
	struct esxmm_balloon *b = container_of(info, struct esxmm_balloon, pages);
	unsigned long flags;

	/* Never wait for the worker or the OOM path from inside compaction. */
	if (!mutex_trylock(&b->lock))
		return -EAGAIN;
	if (!b->vqs_ready || !pfn_fits(b, newpage)) {
		mutex_unlock(&b->lock);
		return -EAGAIN;
	}

	get_page(newpage);	/* the balloon's reference */
	if (!b->oom_feature && page_zone(page) != page_zone(newpage)) {
		adjust_managed_page_count(page, 1);
		adjust_managed_page_count(newpage, -1);
	}
	spin_lock_irqsave(&info->pages_lock, flags);
	balloon_page_insert(info, newpage);
	info->isolated_pages--;
	__count_vm_event(BALLOON_MIGRATE);
	spin_unlock_irqrestore(&info->pages_lock, flags);

	tell_host(b, b->inflate_vq, add_pfns(b, 0, newpage));
	tell_host(b, b->deflate_vq, add_pfns(b, 0, page));
	b->migrated_pages++;
	mutex_unlock(&b->lock);

	balloon_page_finalize(page);
	put_page(page);		/* the balloon's reference */
	return MIGRATEPAGE_SUCCESS;
}
#endif

static int init_vqs(struct esxmm_balloon *b)
{
	vq_callback_t *callbacks[NR_VQS] = { balloon_ack, balloon_ack, stats_request };
	static const char * const names[NR_VQS] = { "inflate", "deflate", "stats" };
	unsigned int nvqs = virtio_has_feature(b->vdev, VIRTIO_BALLOON_F_STATS_VQ) ?
			    NR_VQS : VQ_STATS;
	struct virtqueue *vqs[NR_VQS] = {};
	int err;

	err = esxmm_find_vqs(b->vdev, nvqs, vqs, callbacks, names);
	if (err)
		return err;
	b->inflate_vq = vqs[VQ_INFLATE];
	b->deflate_vq = vqs[VQ_DEFLATE];
	b->stats_vq = vqs[VQ_STATS];
	if (b->stats_vq) {
		/* The host answers a buffer it holds: give it the first one. */
		err = send_stats(b);
		if (err) {
			b->vdev->config->del_vqs(b->vdev);
			return err;
		}
	}
	mutex_lock(&b->lock);
	b->vqs_ready = true;
	mutex_unlock(&b->lock);
	return 0;
}

/* Device is live: kick the stats buffer and let the worker run. */
static void start(struct esxmm_balloon *b)
{
	virtio_device_ready(b->vdev);
	if (b->stats_vq)
		virtqueue_kick(b->stats_vq);
	spin_lock_irq(&b->stop_lock);
	b->stopped = false;
	mod_delayed_work(system_freezable_wq, &b->size_work, 0);
	spin_unlock_irq(&b->stop_lock);
}

static void stop(struct esxmm_balloon *b)
{
	spin_lock_irq(&b->stop_lock);
	b->stopped = true;
	spin_unlock_irq(&b->stop_lock);
	cancel_delayed_work_sync(&b->size_work);
	cancel_work_sync(&b->stats_work);
}

/* Give every page back (telling the host), then reset the device. */
static void deflate_all_and_reset(struct esxmm_balloon *b)
{
	mutex_lock(&b->lock);
	while (b->nr_pages) {
		if (!deflate_pages(b, b->nr_pages)) {
			/* All left are isolated by compaction: let it finish. */
			mutex_unlock(&b->lock);
			msleep(20);
			mutex_lock(&b->lock);
		}
	}
	write_actual(b, true);
	b->vqs_ready = false;
	mutex_unlock(&b->lock);

	virtio_reset_device(b->vdev);
	b->vdev->config->del_vqs(b->vdev);
}

static void debugfs_init(struct esxmm_balloon *b)
{
	char name[32];
	struct dentry *d;

	if (b->id)
		snprintf(name, sizeof(name), KBUILD_MODNAME "%d", b->id);
	else
		snprintf(name, sizeof(name), KBUILD_MODNAME);
	d = debugfs_create_dir(name, NULL);
	b->debugfs = d;
	debugfs_create_ulong("target_pages", 0444, d, &b->target_pages);
	debugfs_create_ulong("actual_pages", 0444, d, &b->nr_pages);
	debugfs_create_ulong("inflated_total", 0444, d, &b->inflated_total);
	debugfs_create_ulong("deflated_total", 0444, d, &b->deflated_total);
	debugfs_create_ulong("alloc_failures", 0444, d, &b->alloc_failures);
	debugfs_create_ulong("oom_deflations", 0444, d, &b->oom_deflations);
	debugfs_create_ulong("oom_events", 0444, d, &b->oom_events);
	debugfs_create_ulong("migrated_pages", 0444, d, &b->migrated_pages);
	debugfs_create_ulong("stats_sent", 0444, d, &b->stats_sent);
	debugfs_create_u32("rate_pages_per_sec", 0444, d, &b->pace.rate);
	debugfs_create_u32("backoff_ms", 0444, d, &b->pace.backoff_ms);
}

static int balloon_probe(struct virtio_device *vdev)
{
	struct esxmm_balloon *b;
	int err;

	if (!vdev->config->get) {
		dev_err(&vdev->dev, "no access to the configuration space\n");
		return -EINVAL;
	}

	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	vdev->priv = b;
	b->vdev = vdev;
	b->units = esxmm_pace_units_per_page(PAGE_SHIFT);
	b->oom_feature = virtio_has_feature(vdev, VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	spin_lock_init(&b->stop_lock);
	b->stopped = true;
	INIT_DELAYED_WORK(&b->size_work, size_work_fn);
	INIT_WORK(&b->stats_work, stats_work_fn);
	init_waitqueue_head(&b->acked);
	mutex_init(&b->lock);
	balloon_devinfo_init(&b->pages);
#ifdef CONFIG_BALLOON_COMPACTION
	b->pages.migratepage = balloon_migrate;
#endif
	esxmm_pace_init(&b->pace, READ_ONCE(rate_pages_per_sec));
	b->retry_at = jiffies;

	b->id = ida_alloc(&balloon_ida, GFP_KERNEL);
	if (b->id < 0) {
		err = b->id;
		goto err_free;
	}

	err = init_vqs(b);
	if (err)
		goto err_ida;

	if (b->oom_feature) {
		b->oom_nb.notifier_call = oom_notify;
		/* Before other notifiers that might free less gently. */
		b->oom_nb.priority = 80;
		err = register_oom_notifier(&b->oom_nb);
		if (err)
			goto err_vqs;
	}

	debugfs_init(b);
	start(b);
	dev_info(&vdev->dev, "balloon ready: stats %s, deflate on OOM %s, %u pages/s\n",
		 b->stats_vq ? "on" : "off", b->oom_feature ? "on" : "off",
		 READ_ONCE(rate_pages_per_sec));
	return 0;

err_vqs:
	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
err_ida:
	ida_free(&balloon_ida, b->id);
err_free:
	kfree(b);
	return err;
}

static void balloon_remove(struct virtio_device *vdev)
{
	struct esxmm_balloon *b = vdev->priv;

	stop(b);
	debugfs_remove_recursive(b->debugfs);
	if (b->oom_feature)
		unregister_oom_notifier(&b->oom_nb);
	deflate_all_and_reset(b);
	dev_info(&vdev->dev, "balloon removed: %lu pages inflated, %lu deflated in all\n",
		 b->inflated_total, b->deflated_total);
	ida_free(&balloon_ida, b->id);
	kfree(b);
}

#ifdef CONFIG_PM_SLEEP
/*
 * The device may not survive the sleep with its state: empty the balloon
 * now and let the worker refill it from the target after resume.
 */
static int balloon_freeze(struct virtio_device *vdev)
{
	struct esxmm_balloon *b = vdev->priv;

	stop(b);
	deflate_all_and_reset(b);
	return 0;
}

static int balloon_restore(struct virtio_device *vdev)
{
	struct esxmm_balloon *b = vdev->priv;
	int err;

	err = init_vqs(b);
	if (err)
		return err;
	start(b);
	return 0;
}
#endif

static const struct virtio_device_id id_table[] = {
	{ VIRTIO_ID_BALLOON, VIRTIO_DEV_ANY_ID },
	{ 0 },
};
MODULE_DEVICE_TABLE(virtio, id_table);

static unsigned int features[] = {
	VIRTIO_BALLOON_F_MUST_TELL_HOST,
	VIRTIO_BALLOON_F_STATS_VQ,
	VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
};

static struct virtio_driver esxmm_balloon_driver = {
	.feature_table = features,
	.feature_table_size = ARRAY_SIZE(features),
	.driver.name = KBUILD_MODNAME,
	.driver.owner = THIS_MODULE,
	.id_table = id_table,
	.probe = balloon_probe,
	.remove = balloon_remove,
	.config_changed = balloon_changed,
#ifdef CONFIG_PM_SLEEP
	.freeze = balloon_freeze,
	.restore = balloon_restore,
#endif
};

module_virtio_driver(esxmm_balloon_driver);
MODULE_DESCRIPTION("esxmm: virtio balloon driver paced like ESX's");
MODULE_LICENSE("GPL");
