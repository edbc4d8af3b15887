<?php
// The example's page: proof that nginx passed the request to php-fpm.
header('Content-Type: text/plain');
printf("%s\n", APP_GREETING);
printf("php %s, worker pid %d, container set up at %s\n", PHP_VERSION, getmypid(), APP_STARTED);
printf("cache files: %d\n", count(glob(APP_CACHE . '/*') ?: []));
