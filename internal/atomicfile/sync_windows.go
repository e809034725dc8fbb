package atomicfile

// syncDir is a no-op: Windows cannot open a folder for fsync, and
// MoveFileEx (os.Rename) is already durable enough for NTFS.
func syncDir(string) error { return nil }
