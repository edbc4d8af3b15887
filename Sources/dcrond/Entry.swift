import LinuxSys
import Reactor

#if hasFeature(Embedded)
@_cdecl("main")
func cMain(_ argc: Int32, _ argv: CArgv) -> Int32 {
    dcrondMain(argc: argc, argv: argv)
}
#else
@main
enum DcrondEntry {
    static func main() {
        Processes.exit(dcrondMain(argc: CommandLine.argc, argv: CommandLine.unsafeArgv))
    }
}
#endif
