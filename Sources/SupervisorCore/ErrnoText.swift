/// Messages for the errno values a spawn can fail with. A fixed table rather
/// than strerror(): the same text with glibc and musl, and no libc in the core.
public enum ErrnoText {
    public static func write(_ errno: Int32, to line: LineWriter) {
        switch errno {
        case 1: line.text("Operation not permitted")
        case 2: line.text("No such file or directory")
        case 7: line.text("Argument list too long")
        case 8: line.text("Exec format error")
        case 11: line.text("Resource temporarily unavailable")
        case 12: line.text("Out of memory")
        case 13: line.text("Permission denied")
        case 20: line.text("Not a directory")
        case 21: line.text("Is a directory")
        case 23, 24: line.text("Too many open files")
        case 26: line.text("Text file busy")
        case 36: line.text("File name too long")
        case 40: line.text("Too many levels of symbolic links")
        default:
            line.text("error ")
            line.int(errno)
        }
    }
}
