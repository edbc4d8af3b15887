<?php
// A slow request (?s=seconds, default 1, at most 10): what a graceful stop
// must let finish. `docker stop` while it runs still gets the full answer,
// because dinit stops nginx with QUIT (finish in-flight requests), not TERM.
header('Content-Type: text/plain');
$s = min(max((float)($_GET['s'] ?? 1), 0), 10);
usleep((int)($s * 1000000));
printf("slept %g s\n", $s);
