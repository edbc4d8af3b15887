import LinuxSys
import Reactor

#if hasFeature(Embedded)
// Embedded Swift has no CommandLine: argv comes from the C runtime.
@_cdecl("main")
func cMain(_ argc: Int32, _ argv: CArgv) -> Int32 {
    dinitMain(argc: argc, argv: argv)
}
#else
@main
enum DinitEntry {
    static func main() {
        Processes.exit(dinitMain(argc: CommandLine.argc, argv: CommandLine.unsafeArgv))
    }
}
#endif
