// SPDX-License-Identifier: GPL-2.0
/*
 * The esxmm filesystem: one regular file per guest, whose pages are the
 * guest's RAM. `mount -t esxmm none DIR [-o uid=,gid=,mode=]` like
 * hugetlbfs; directories for the VMM's own layout (libvirt nests them);
 * ftruncate sets the RAM size (page-aligned); mmap MAP_SHARED only;
 * pread/pwrite go through the pmap; fallocate punches holes and nothing
 * else; statfs reports the machine pool.
 *
 * The namespace is ramfs's (dentries pinned, simple_* operations); the data
 * is never in the page cache: it lives in the file's pmap, and ->fault maps
 * it (shadow/fault.c).
 */
#include <linux/fs.h>
#include <linux/falloc.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/highmem.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/statfs.h>
#include <linux/uio.h>

#include "esxmm.h"
#include "range.h"
#include "reclaim/reclaim.h"

struct esxmm_fs_opts {
	kuid_t uid;
	kgid_t gid;
	umode_t mode;
	unsigned int set;	/* which options the user gave: BIT(Opt_*) */
};

enum { Opt_uid, Opt_gid, Opt_mode };

static const struct fs_parameter_spec esxmm_fs_parameters[] = {
	fsparam_u32("uid", Opt_uid),
	fsparam_u32("gid", Opt_gid),
	fsparam_u32oct("mode", Opt_mode),
	{}
};

static const struct inode_operations esxmm_dir_iops;
static const struct inode_operations esxmm_file_iops;
static const struct file_operations esxmm_file_fops;
static const struct super_operations esxmm_sops;

/* esxmm pages are never in the page cache; nothing here is ever called. */
static const struct address_space_operations esxmm_aops = {
	.dirty_folio	= noop_dirty_folio,
};

static struct inode *esxmm_get_inode(struct super_block *sb, const struct inode *dir,
				     umode_t mode)
{
	struct inode *inode = new_inode(sb);
	struct esxmm_vm *vm;

	if (!inode)
		return ERR_PTR(-ENOMEM);
	inode->i_ino = get_next_ino();
	inode_init_owner(&init_user_ns, inode, dir, mode);
	inode->i_mapping->a_ops = &esxmm_aops;
	mapping_set_unevictable(inode->i_mapping);
	inode->i_atime = inode->i_mtime = inode->i_ctime = current_time(inode);

	switch (mode & S_IFMT) {
	case S_IFREG:
		inode->i_op = &esxmm_file_iops;
		inode->i_fop = &esxmm_file_fops;
		vm = esxmm_vm_create(inode);
		if (IS_ERR(vm)) {
			iput(inode);
			return ERR_CAST(vm);
		}
		break;
	case S_IFDIR:
		inode->i_op = &esxmm_dir_iops;
		inode->i_fop = &simple_dir_operations;
		inc_nlink(inode);	/* "." */
		break;
	default:
		iput(inode);
		return ERR_PTR(-EINVAL);
	}
	return inode;
}

static int esxmm_mknod(struct inode *dir, struct dentry *dentry, umode_t mode)
{
	struct inode *inode = esxmm_get_inode(dir->i_sb, dir, mode);

	if (IS_ERR(inode))
		return PTR_ERR(inode);
	d_instantiate(dentry, inode);
	dget(dentry);		/* pinned, as in ramfs */
	dir->i_mtime = dir->i_ctime = current_time(dir);
	return 0;
}

static int esxmm_create(struct user_namespace *mnt_userns, struct inode *dir,
			struct dentry *dentry, umode_t mode, bool excl)
{
	return esxmm_mknod(dir, dentry, (mode & 07777) | S_IFREG);
}

static int esxmm_mkdir(struct user_namespace *mnt_userns, struct inode *dir,
		       struct dentry *dentry, umode_t mode)
{
	int err = esxmm_mknod(dir, dentry, (mode & 07777) | S_IFDIR);

	if (!err)
		inc_nlink(dir);
	return err;
}

static int esxmm_setattr(struct user_namespace *mnt_userns, struct dentry *dentry,
			 struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	loff_t oldsize = i_size_read(inode);
	int err;

	err = setattr_prepare(&init_user_ns, dentry, attr);
	if (err)
		return err;

	if ((attr->ia_valid & ATTR_SIZE) && attr->ia_size != oldsize) {
		loff_t newsize = attr->ia_size;

		err = esxmm_check_size(newsize);
		if (err) {
			pr_info_ratelimited("%pd: size %lld refused: guest RAM is a whole number of pages\n",
					    dentry, newsize);
			return err;
		}
		if (newsize < oldsize && mapping_mapped(inode->i_mapping)) {
			pr_warn_ratelimited("%pd: refusing to shrink a mapped guest from %lld to %lld bytes\n",
					    dentry, oldsize, newsize);
			return -EBUSY;
		}
		i_size_write(inode, newsize);
		inode->i_mtime = inode->i_ctime = current_time(inode);
		if (newsize < oldsize)
			esxmm_shadow_free_range(esxmm_vm_of(inode),
						esxmm_size_to_pages(newsize),
						esxmm_size_to_pages(oldsize));
	}
	setattr_copy(&init_user_ns, inode, attr);
	mark_inode_dirty(inode);
	return 0;
}

static int esxmm_mmap(struct file *file, struct vm_area_struct *vma)
{
	/*
	 * A private mapping would copy pages on write: the guest's writes
	 * would land in anonymous memory esxmm cannot see, share or reclaim.
	 * (A read-only MAP_SHARED mapping lacks VM_SHARED but has VM_MAYSHARE.)
	 */
	if (!(vma->vm_flags & VM_MAYSHARE)) {
		pr_warn_ratelimited("%pD: MAP_PRIVATE refused for %s[%d]: map guest memory with MAP_SHARED (QEMU: share=on)\n",
				    file, current->comm, task_pid_nr(current));
		return -EINVAL;
	}
	/* Admission control: its min must be reservable, the rest swappable. */
	if (esxmm_reclaim_admit(esxmm_vm_of(file_inode(file))))
		return -ENOMEM;
	file_accessed(file);
	/*
	 * VM_DONTEXPAND: no mremap growth past what was mapped, and mlock
	 * skips the mapping: residency is esxmm's to decide.
	 */
	vma->vm_flags |= VM_DONTEXPAND;
	vma->vm_ops = &esxmm_vm_ops;
	return 0;
}

static ssize_t esxmm_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	struct esxmm_vm *vm = esxmm_vm_of(inode);
	ssize_t done = 0;
	size_t left;

	inode_lock_shared(inode);
	left = esxmm_rw_clip(iocb->ki_pos, iov_iter_count(to), i_size_read(inode));
	while (left) {
		pgoff_t ppn = iocb->ki_pos >> PAGE_SHIFT;
		size_t off = offset_in_page(iocb->ki_pos);
		size_t n = min_t(size_t, PAGE_SIZE - off, left);
		struct page *page;
		void *entry;
		size_t copied;
		int perr = 0;

		page = esxmm_pmap_get_page(&vm->pmap, ppn, &entry);
		if (page && !PageUptodate(page)) {
			/* Being read back from swap: wait for it. */
			put_page(page);
			page = NULL;
		}
		if (!page && esxmm_pmap_state(entry) != ESXMM_P_NONE &&
		    esxmm_pmap_state(entry) != ESXMM_P_BALLOONED) {
			/* Swapped (or racing a swap-in): read it back, locked. */
			page = esxmm_shadow_get_page(vm, ppn, false, &perr);
			if (!page) {
				if (!done)
					done = perr == -ENXIO ? -EIO : perr;
				break;
			}
			unlock_page(page);
		}
		if (page) {
			copied = copy_page_to_iter(page, off, n, to);
			put_page(page);
		} else {
			copied = iov_iter_zero(n, to);
		}
		done += copied;
		iocb->ki_pos += copied;
		left -= copied;
		if (copied < n) {
			if (!done)
				done = -EFAULT;
			break;
		}
		if (fatal_signal_pending(current))
			break;
		cond_resched();
	}
	inode_unlock_shared(inode);
	file_accessed(iocb->ki_filp);
	return done;
}

/*
 * Writes go into the guest's pages in place, allocating a zeroed page for a
 * hole. The page is not locked while user memory is copied: the source may
 * be a mapping of this very file, whose fault would take the page lock.
 * Writes stop at the end of the file: a guest's size is set by ftruncate.
 */
static ssize_t esxmm_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	struct esxmm_vm *vm = esxmm_vm_of(inode);
	ssize_t done = 0, err;
	size_t left;

	inode_lock_shared(inode);
	err = generic_write_checks(iocb, from);
	if (err <= 0) {
		done = err;
		goto out;
	}
	if (iocb->ki_pos >= i_size_read(inode)) {
		done = -EFBIG;
		goto out;
	}
	left = esxmm_rw_clip(iocb->ki_pos, iov_iter_count(from), i_size_read(inode));
	while (left) {
		pgoff_t ppn = iocb->ki_pos >> PAGE_SHIFT;
		size_t off = offset_in_page(iocb->ki_pos);
		size_t n = min_t(size_t, PAGE_SIZE - off, left);
		struct page *page;
		size_t copied;
		int perr = 0;

		page = esxmm_shadow_get_page(vm, ppn, true, &perr);
		if (!page) {
			/* -ENOSPC: pool full; -ENOMEM; -EIO (no -ENXIO: i_rwsem is held) */
			if (!done)
				done = perr == -ENXIO ? -EIO : perr;
			break;
		}
		unlock_page(page);
		copied = copy_page_from_iter(page, off, n, from);
		put_page(page);
		done += copied;
		iocb->ki_pos += copied;
		left -= copied;
		if (copied < n) {
			if (!done)
				done = -EFAULT;
			break;
		}
		if (fatal_signal_pending(current))
			break;
		cond_resched();
	}
	if (done > 0)
		file_update_time(file);
out:
	inode_unlock_shared(inode);
	return done;
}

static long esxmm_fallocate(struct file *file, int mode, loff_t offset, loff_t len)
{
	struct inode *inode = file_inode(file);
	struct esxmm_vm *vm = esxmm_vm_of(inode);
	struct esxmm_punch p;
	unsigned int i;
	long err;

	if (mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;

	inode_lock(inode);
	err = esxmm_punch_range(offset, len, i_size_read(inode), &p);
	if (err)
		goto out;
	for (i = 0; i < p.nr_zero; i++) {
		err = esxmm_shadow_zero_range(vm, p.zero_start[i], p.zero_end[i]);
		if (err)
			goto out;
	}
	esxmm_shadow_free_range(vm, p.first, p.end);
	/* A running guest's VMM punching its RAM: the guest gave it back. */
	if (mapping_mapped(inode->i_mapping))
		esxmm_shadow_mark_ballooned(vm, p.first, p.end);
	inode->i_mtime = inode->i_ctime = current_time(inode);
out:
	inode_unlock(inode);
	return err;
}

/* Page-cache advice means nothing for pages that are never in it. */
static int esxmm_fadvise(struct file *file, loff_t offset, loff_t len, int advice)
{
	return 0;
}

static const struct file_operations esxmm_file_fops = {
	.owner		= THIS_MODULE,
	.llseek		= generic_file_llseek,
	.read_iter	= esxmm_read_iter,
	.write_iter	= esxmm_write_iter,
	.mmap		= esxmm_mmap,
	.fallocate	= esxmm_fallocate,
	.fsync		= noop_fsync,
	.fadvise	= esxmm_fadvise,
};

static const struct inode_operations esxmm_file_iops = {
	.setattr	= esxmm_setattr,
	.getattr	= simple_getattr,
};

static const struct inode_operations esxmm_dir_iops = {
	.create		= esxmm_create,
	.lookup		= simple_lookup,
	.unlink		= simple_unlink,
	.mkdir		= esxmm_mkdir,
	.rmdir		= simple_rmdir,
	.rename		= simple_rename,
	.setattr	= simple_setattr,
	.getattr	= simple_getattr,
};

static int esxmm_statfs(struct dentry *dentry, struct kstatfs *buf)
{
	buf->f_type = ESXMM_MAGIC;
	buf->f_bsize = PAGE_SIZE;
	buf->f_frsize = PAGE_SIZE;
	buf->f_blocks = esxmm_pool_limit(&esxmm_pool);
	buf->f_bfree = esxmm_pool_free(&esxmm_pool);
	buf->f_bavail = buf->f_bfree;
	buf->f_namelen = NAME_MAX;
	return 0;
}

static void esxmm_evict_inode(struct inode *inode)
{
	struct esxmm_vm *vm = esxmm_vm_of(inode);

	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
	if (S_ISREG(inode->i_mode) && vm)
		esxmm_vm_destroy(vm);
}

static int esxmm_show_options(struct seq_file *m, struct dentry *root)
{
	struct esxmm_fs_opts *opts = root->d_sb->s_fs_info;

	if (!uid_eq(opts->uid, GLOBAL_ROOT_UID))
		seq_printf(m, ",uid=%u", from_kuid_munged(&init_user_ns, opts->uid));
	if (!gid_eq(opts->gid, GLOBAL_ROOT_GID))
		seq_printf(m, ",gid=%u", from_kgid_munged(&init_user_ns, opts->gid));
	if (opts->mode != 0755)
		seq_printf(m, ",mode=%o", opts->mode);
	return 0;
}

static const struct super_operations esxmm_sops = {
	.statfs		= esxmm_statfs,
	.evict_inode	= esxmm_evict_inode,
	.drop_inode	= generic_delete_inode,
	.show_options	= esxmm_show_options,
};

static int esxmm_parse_param(struct fs_context *fc, struct fs_parameter *param)
{
	struct esxmm_fs_opts *opts = fc->fs_private;
	struct fs_parse_result result;
	int opt;

	opt = fs_parse(fc, esxmm_fs_parameters, param, &result);
	if (opt < 0)
		return opt;

	switch (opt) {
	case Opt_uid:
		opts->uid = make_kuid(current_user_ns(), result.uint_32);
		if (!uid_valid(opts->uid))
			return invalfc(fc, "Invalid uid %u", result.uint_32);
		break;
	case Opt_gid:
		opts->gid = make_kgid(current_user_ns(), result.uint_32);
		if (!gid_valid(opts->gid))
			return invalfc(fc, "Invalid gid %u", result.uint_32);
		break;
	case Opt_mode:
		if (result.uint_32 & ~07777)
			return invalfc(fc, "Invalid mode %o", result.uint_32);
		opts->mode = result.uint_32;
		break;
	}
	opts->set |= BIT(opt);
	return 0;
}

static int esxmm_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct esxmm_fs_opts *opts = fc->fs_private;
	struct inode *root;

	sb->s_maxbytes = (loff_t)ESXMM_MAX_PAGES << PAGE_SHIFT;
	sb->s_blocksize = PAGE_SIZE;
	sb->s_blocksize_bits = PAGE_SHIFT;
	sb->s_magic = ESXMM_MAGIC;
	sb->s_op = &esxmm_sops;
	sb->s_time_gran = 1;
	sb->s_fs_info = opts;
	fc->fs_private = NULL;	/* the superblock owns the options now */

	root = esxmm_get_inode(sb, NULL, S_IFDIR | opts->mode);
	if (IS_ERR(root))
		return PTR_ERR(root);
	root->i_uid = opts->uid;
	root->i_gid = opts->gid;
	sb->s_root = d_make_root(root);
	if (!sb->s_root)
		return -ENOMEM;
	return 0;
}

static int esxmm_get_tree(struct fs_context *fc)
{
	return get_tree_nodev(fc, esxmm_fill_super);
}

static int esxmm_reconfigure(struct fs_context *fc)
{
	struct esxmm_fs_opts *opts = fc->fs_private;
	struct esxmm_fs_opts *cur = fc->root->d_sb->s_fs_info;

	/* mount(8) may repeat the options it has: refuse only real changes. */
	if (((opts->set & BIT(Opt_uid)) && !uid_eq(opts->uid, cur->uid)) ||
	    ((opts->set & BIT(Opt_gid)) && !gid_eq(opts->gid, cur->gid)) ||
	    ((opts->set & BIT(Opt_mode)) && opts->mode != cur->mode))
		return invalfc(fc, "uid, gid and mode cannot be changed by remount");
	return 0;
}

static void esxmm_free_fc(struct fs_context *fc)
{
	kfree(fc->fs_private);
}

static const struct fs_context_operations esxmm_context_ops = {
	.free		= esxmm_free_fc,
	.parse_param	= esxmm_parse_param,
	.get_tree	= esxmm_get_tree,
	.reconfigure	= esxmm_reconfigure,
};

static int esxmm_init_fs_context(struct fs_context *fc)
{
	struct esxmm_fs_opts *opts;

	opts = kzalloc(sizeof(*opts), GFP_KERNEL);
	if (!opts)
		return -ENOMEM;
	opts->uid = current_fsuid();
	opts->gid = current_fsgid();
	opts->mode = 0755;
	fc->fs_private = opts;
	fc->ops = &esxmm_context_ops;
	return 0;
}

static void esxmm_kill_sb(struct super_block *sb)
{
	kill_litter_super(sb);
	kfree(sb->s_fs_info);
}

static struct file_system_type esxmm_fs_type = {
	.owner			= THIS_MODULE,
	.name			= "esxmm",
	.init_fs_context	= esxmm_init_fs_context,
	.parameters		= esxmm_fs_parameters,
	.kill_sb		= esxmm_kill_sb,
};

/**
 * esxmm_fs_init() - Register the filesystem type.
 *
 * Return: 0 or a negative errno from register_filesystem().
 */
int esxmm_fs_init(void)
{
	return register_filesystem(&esxmm_fs_type);
}

/**
 * esxmm_fs_exit() - Unregister it; no superblock can exist any more (each
 * holds a reference on the module).
 */
void esxmm_fs_exit(void)
{
	unregister_filesystem(&esxmm_fs_type);
}
MODULE_ALIAS_FS("esxmm");
