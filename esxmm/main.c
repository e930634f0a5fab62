// SPDX-License-Identifier: GPL-2.0
/*
 * esxmm: memory resource management in the manner of VMware ESX Server
 * (Waldspurger, OSDI 2002) for Linux KVM hosts.
 */

/**
 * DOC: Overview
 *
 * ESX keeps a pmap from each guest's "physical" page numbers (PPNs) to
 * machine pages and can change any entry, because every guest access goes
 * through shadow page tables it controls. On a KVM host the chain is longer:
 * guest frame -> KVM memslot -> VMM virtual address -> VMM page table ->
 * page. KVM's shadow MMU (or TDP) caches the whole chain and its MMU
 * notifier keeps the cache true whenever the VMM's page tables change.
 *
 * esxmm owns the last hop. Guest RAM is a regular file of the esxmm
 * filesystem (fs.c), mapped MAP_SHARED by QEMU (memory-backend-file,
 * share=on) or by libvirt (memory_backing_dir). The file's page offset is
 * the PPN; its pages are esxmm's own, held in a per-file pmap
 * (shadow/pmap.h) and charged to a machine-wide pool (pool.c). ->fault maps
 * them (shadow/fault.c). To change what backs a PPN, esxmm updates the pmap
 * under the page lock and zaps the VMM's PTE; KVM drops its shadow entry,
 * and the guest's next touch faults back into esxmm. That one mechanism is
 * what sharing, sampling, swapping and ballooning are built on, with no
 * kprobes, no unexported symbols and no patched KVM.
 *
 * Each guest file is a vm (vm.c) with a directory under /sys/kernel/esxmm/vms
 * (sysfs.c). The module cannot be unloaded while a filesystem is mounted:
 * each superblock holds a reference on it.
 */
#include <linux/init.h>
#include <linux/mm.h>
#include <linux/module.h>

#include "esxmm.h"
#include "reclaim/reclaim.h"
#include "share/share.h"

static unsigned long pool_pages;
module_param(pool_pages, ulong, 0444);
MODULE_PARM_DESC(pool_pages,
		 "Machine memory pool in pages (default 0: 90% of RAM at load time)");

struct esxmm_pool esxmm_pool;

static int __init esxmm_init(void)
{
	unsigned long ram = totalram_pages();
	int err;

	if (pool_pages > ram) {
		pr_err("pool_pages=%lu exceeds the machine's %lu pages of RAM\n", pool_pages, ram);
		return -EINVAL;
	}
	esxmm_pool_init(&esxmm_pool, pool_pages ? pool_pages : esxmm_pool_default_limit(ram));

	err = esxmm_share_init();
	if (err)
		return err;
	err = esxmm_reclaim_init();
	if (err)
		goto share_exit;
	err = esxmm_swap_init();
	if (err)
		goto reclaim_exit;
	err = esxmm_sysfs_init();
	if (err)
		goto swap_exit;
	err = esxmm_fs_init();
	if (err)
		goto sysfs_exit;
	pr_info("loaded: pool of %lu pages (%lu MiB)\n", esxmm_pool_limit(&esxmm_pool),
		esxmm_pool_limit(&esxmm_pool) >> (20 - PAGE_SHIFT));
	return 0;

sysfs_exit:
	esxmm_sysfs_exit();
swap_exit:
	esxmm_swap_exit();
reclaim_exit:
	esxmm_reclaim_exit();
share_exit:
	esxmm_share_exit();
	return err;
}

static void __exit esxmm_exit(void)
{
	esxmm_fs_exit();
	/* No superblock can be left (each pins the module), hence no vm. */
	WARN_ON(esxmm_vm_count());
	WARN_ON(esxmm_pool_allocated(&esxmm_pool));
	esxmm_sysfs_exit();
	esxmm_swap_exit();
	esxmm_reclaim_exit();
	esxmm_share_exit();
	pr_info("unloaded\n");
}

module_init(esxmm_init);
module_exit(esxmm_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("ESX-style memory overcommit for KVM hosts");
MODULE_AUTHOR("The esxmm developers");
