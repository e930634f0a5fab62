// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/esxmm/: translates files into calls, nothing more (the logic
 * is in pool.c, vm.c and shadow/). The names are a contract that tools and
 * tests read; Documentation/admin-guide.rst lists them.
 *
 *   pool_pages (rw)  free_pages  allocated_pages  vms_count
 *   vms/<id>/  path  size_pages  resident_pages  faults
 */
#include <linux/dcache.h>
#include <linux/idr.h>
#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "esxmm.h"
#include "parse.h"
#include "range.h"

static struct kobject *esxmm_kobj;	/* /sys/kernel/esxmm */
static struct kobject *vms_kobj;	/* /sys/kernel/esxmm/vms */
static DEFINE_IDA(vm_ida);		/* vm ids; the IDA locks itself */

/* Global tunables */

static ssize_t pool_pages_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", esxmm_pool_limit(&esxmm_pool));
}

/*
 * 1 .. the machine's RAM. Below what is allocated is allowed: new pages
 * are refused until enough are given back.
 */
static ssize_t pool_pages_store(struct kobject *kobj, struct kobj_attribute *attr,
				const char *buf, size_t count)
{
	unsigned long pages;
	int err;

	err = esxmm_parse_ulong(buf, count, 1, totalram_pages(), &pages);
	if (err)
		return err;
	esxmm_pool_set_limit(&esxmm_pool, pages);
	return count;
}
static struct kobj_attribute pool_pages_attr = __ATTR_RW(pool_pages);

static struct attribute *esxmm_tunable_attrs[] = {
	&pool_pages_attr.attr,
	NULL,
};

static const struct attribute_group esxmm_tunable_group = {
	.attrs = esxmm_tunable_attrs,
};

/* Global counters */

static ssize_t free_pages_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", esxmm_pool_free(&esxmm_pool));
}
static struct kobj_attribute free_pages_attr = __ATTR_RO(free_pages);

static ssize_t allocated_pages_show(struct kobject *kobj, struct kobj_attribute *attr,
				    char *buf)
{
	return sysfs_emit(buf, "%lu\n", esxmm_pool_allocated(&esxmm_pool));
}
static struct kobj_attribute allocated_pages_attr = __ATTR_RO(allocated_pages);

static ssize_t pool_failures_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&esxmm_pool.failed));
}
static struct kobj_attribute pool_failures_attr = __ATTR_RO(pool_failures);

static ssize_t vms_count_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", esxmm_vm_count());
}
static struct kobj_attribute vms_count_attr = __ATTR_RO(vms_count);

static struct attribute *esxmm_counter_attrs[] = {
	&free_pages_attr.attr,
	&allocated_pages_attr.attr,
	&pool_failures_attr.attr,
	&vms_count_attr.attr,
	NULL,
};

static const struct attribute_group esxmm_counter_group = {
	.attrs = esxmm_counter_attrs,
};

static const struct attribute_group *esxmm_groups[] = {
	&esxmm_tunable_group,
	&esxmm_counter_group,
	NULL,
};

/* Per-vm directory */

static struct esxmm_vm *to_vm(struct kobject *kobj)
{
	return container_of(kobj, struct esxmm_vm, kobj);
}

/* The file's path inside its mount; "(deleted)" once its last name is gone. */
static ssize_t path_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	struct esxmm_vm *vm = to_vm(kobj);
	struct dentry *dentry = d_find_alias(vm->inode);
	char *p;
	size_t len;

	if (!dentry)
		return sysfs_emit(buf, "(deleted)\n");
	p = dentry_path_raw(dentry, buf, PAGE_SIZE - 1);
	dput(dentry);
	if (IS_ERR(p))
		return PTR_ERR(p);
	len = strlen(p);
	memmove(buf, p, len);
	buf[len++] = '\n';
	return len;
}
static struct kobj_attribute path_attr = __ATTR_RO(path);

static ssize_t size_pages_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", esxmm_size_to_pages(i_size_read(to_vm(kobj)->inode)));
}
static struct kobj_attribute size_pages_attr = __ATTR_RO(size_pages);

static ssize_t resident_pages_show(struct kobject *kobj, struct kobj_attribute *attr,
				   char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&to_vm(kobj)->resident));
}
static struct kobj_attribute resident_pages_attr = __ATTR_RO(resident_pages);

static ssize_t faults_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&to_vm(kobj)->faults));
}
static struct kobj_attribute faults_attr = __ATTR_RO(faults);

static struct attribute *esxmm_vm_attrs[] = {
	&path_attr.attr,
	&size_pages_attr.attr,
	&resident_pages_attr.attr,
	&faults_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(esxmm_vm);

static void esxmm_vm_release(struct kobject *kobj)
{
	struct esxmm_vm *vm = to_vm(kobj);

	esxmm_pmap_destroy(&vm->pmap);
	if (vm->id != UINT_MAX)
		ida_free(&vm_ida, vm->id);
	kfree(vm);
}

const struct kobj_type esxmm_vm_ktype = {
	.release	= esxmm_vm_release,
	.sysfs_ops	= &kobj_sysfs_ops,
	.default_groups	= esxmm_vm_groups,
};

/**
 * esxmm_sysfs_add_vm() - Give a new vm its id and its sysfs directory.
 * @vm: the vm, zeroed but for its inode and pmap.
 *
 * On failure the vm has been freed through its kobject's release.
 *
 * Return: 0 or a negative errno.
 */
int esxmm_sysfs_add_vm(struct esxmm_vm *vm)
{
	int id, err;

	kobject_init(&vm->kobj, &esxmm_vm_ktype);
	id = ida_alloc(&vm_ida, GFP_KERNEL);
	if (id < 0) {
		vm->id = UINT_MAX;
		kobject_put(&vm->kobj);
		return id;
	}
	vm->id = id;
	err = kobject_add(&vm->kobj, vms_kobj, "%d", id);
	if (err) {
		kobject_put(&vm->kobj);
		return err;
	}
	return 0;
}

/**
 * esxmm_sysfs_init() - Create /sys/kernel/esxmm and its vms directory.
 *
 * Return: 0 or -ENOMEM.
 */
int esxmm_sysfs_init(void)
{
	int err;

	esxmm_kobj = kobject_create_and_add("esxmm", kernel_kobj);
	if (!esxmm_kobj)
		return -ENOMEM;
	err = sysfs_create_groups(esxmm_kobj, esxmm_groups);
	if (err)
		goto put_root;
	vms_kobj = kobject_create_and_add("vms", esxmm_kobj);
	if (!vms_kobj) {
		err = -ENOMEM;
		goto remove_groups;
	}
	return 0;

remove_groups:
	sysfs_remove_groups(esxmm_kobj, esxmm_groups);
put_root:
	kobject_put(esxmm_kobj);
	return err;
}

/**
 * esxmm_sysfs_exit() - Remove what esxmm_sysfs_init() made; no vm is left.
 */
void esxmm_sysfs_exit(void)
{
	kobject_put(vms_kobj);
	sysfs_remove_groups(esxmm_kobj, esxmm_groups);
	kobject_put(esxmm_kobj);
	ida_destroy(&vm_ida);
}
