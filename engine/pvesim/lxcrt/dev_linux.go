package lxcrt

import "syscall"

// devNumbers returns the type and numbers of a device node, ok false for
// anything else (the lab's stand-in files).
func devNumbers(path string) (typ byte, major, minor uint32, ok bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, 0, 0, false
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFCHR:
		typ = 'c'
	case syscall.S_IFBLK:
		typ = 'b'
	default:
		return 0, 0, 0, false
	}
	dev := uint64(st.Rdev)
	major = uint32((dev>>8)&0xfff) | uint32((dev>>32)&^0xfff)
	minor = uint32(dev&0xff) | uint32((dev>>12)&^0xff)
	return typ, major, minor, true
}
