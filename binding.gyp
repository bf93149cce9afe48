# Native parts of didactic-container, built by `npm ci` (the "install" script
# runs `node-gyp rebuild`) or by `npm run build:native`.
#
#   didactic_native  Node-API addon in plain C: mount, umount2, mknod, xattrs,
#                    statfs, and the kernel constants they take; starting the
#                    launcher (posix_spawn: no fork of Node), waiting for it and
#                    reading its pipes on threads of its own.
#   didactic-probe   static test program that tests run inside containers to
#                    report what the container sees (pid, ids, caps, mounts...).
#                    Linked with -static so it runs in any rootfs; needs libc.a
#                    (Debian: libc6-dev).
#
#   didactic-launcher  clone, mounts, pivot_root, exec; with --detach it stays
#                    as the container's monitor (stdio, json-file log, exit
#                    file, restarts). Linked -static: an idle monitor's resident
#                    memory is about half that of a dynamically linked one.
#   didactic-join    exec and cp: setns into a running container's namespaces,
#                    then exec a command there or copy a tar stream in or out;
#                    shares plan.c, report.c, security.c, wait.c with the launcher.
{
  "target_defaults": {
    "cflags": ["-std=c11", "-Wall", "-Wextra", "-Werror"],
    "cflags!": ["-Wno-unused-parameter"],
    "defines": ["_GNU_SOURCE"],
  },
  "targets": [
    {
      "target_name": "didactic_native",
      "sources": [
        "native/addon/addon.c",
        "native/addon/checksum.c",
        "native/addon/constants.c",
        "native/addon/fs-calls.c",
        "native/addon/js.c",
        "native/addon/spawn-calls.c",
        "native/addon/xattr-calls.c",
      ],
    },
    {
      "target_name": "didactic-probe",
      "type": "executable",
      "sources": [
        "native/probe/json.c",
        "native/probe/probe.c",
        "native/probe/report.c",
      ],
      "ldflags": ["-static"],
    },
    {
      "target_name": "didactic-launcher",
      "type": "executable",
      "sources": [
        "native/launcher/child.c",
        "native/launcher/console.c",
        "native/launcher/main.c",
        "native/launcher/json-log.c",
        "native/launcher/monitor.c",
        "native/launcher/monitor-files.c",
        "native/launcher/mounts.c",
        "native/launcher/plan.c",
        "native/launcher/report.c",
        "native/launcher/security.c",
        "native/launcher/wait.c",
      ],
      "ldflags": ["-static"],
    },
    {
      "target_name": "didactic-join",
      "type": "executable",
      "sources": [
        "native/join/main.c",
        "native/join/tar-read.c",
        "native/join/tar-write.c",
        "native/launcher/console.c",
        "native/launcher/plan.c",
        "native/launcher/report.c",
        "native/launcher/security.c",
        "native/launcher/wait.c",
      ],
      "ldflags": ["-static"],
    },
  ],
}
