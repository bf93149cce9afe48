/**
 * The one table of commands. Each entry says how the command is spelled and
 * which options it takes; its behaviour lives in commands/<noun>-<verb>.ts and
 * is loaded only when that command runs, so start-up parses this table and
 * nothing else.
 *
 * A command named "noun verb" lives under its noun (`image ls`); `shortcuts`
 * adds Docker's top-level spellings (`images`), `aliases` the other verbs the
 * noun accepts (`image list`).
 */
import type { CommandContext } from './context.js';

export interface OptionSpec {
  flags: string;
  description: string;
  default?: string | boolean | string[];
  /** Repeatable option (`-e A -e B`): values are collected into an array. */
  repeatable?: boolean;
}

export interface CommandModule {
  run(ctx: CommandContext, operands: string[], options: Record<string, unknown>): Promise<number | void>;
}

export interface CommandSpec {
  name: string;
  summary: string;
  aliases?: string[];
  shortcuts?: string[];
  /** Commander argument syntax, e.g. ['<image>', '[command...]']. */
  args?: string[];
  options?: OptionSpec[];
  /** Options after the first operand belong to the container's command (`run IMAGE ls -la`). */
  passThrough?: boolean;
  load(): Promise<CommandModule>;
}

export const NOUNS: Record<string, string> = {
  image: 'Manage images',
  container: 'Manage containers',
  network: 'Manage networks',
  volume: 'Manage volumes',
};

const FORMAT: OptionSpec = { flags: '--format <format>', description: 'output format: table or json' };

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'version',
    summary: 'Show the engine version',
    options: [FORMAT],
    load: () => import('./commands/system-version.js'),
  },
  {
    name: 'info',
    summary: 'Show what this machine offers: kernel, cgroups, overlayfs, storage, counts',
    options: [FORMAT],
    load: () => import('./commands/system-info.js'),
  },
  {
    name: 'check',
    summary: 'Verify the store: every blob against its digest, every layer the database names',
    options: [FORMAT, { flags: '--repair', description: 'delete blobs whose content does not match their digest' }],
    load: () => import('./commands/system-check.js'),
  },
  {
    name: 'login',
    summary: 'Log in to a registry (credentials kept in a 0600 file, Docker config.json format)',
    args: ['[server]'],
    options: [
      { flags: '-u, --username <name>', description: 'user name' },
      { flags: '-p, --password <password>', description: 'password (prefer --password-stdin)' },
      { flags: '--password-stdin', description: 'read the password from standard input' },
    ],
    load: () => import('./commands/system-login.js'),
  },
  {
    name: 'logout',
    summary: 'Forget the credentials of a registry',
    args: ['[server]'],
    load: () => import('./commands/system-logout.js'),
  },
  {
    name: 'image pull',
    shortcuts: ['pull'],
    summary: 'Download an image from a registry',
    args: ['<image>'],
    options: [
      { flags: '--platform <os/arch[/variant]>', description: 'platform to pull from a multi-platform image' },
      { flags: '-q, --quiet', description: 'print only the image reference' },
      { flags: '--max-concurrent-downloads <n>', description: 'parallel layer downloads', default: '3' },
    ],
    load: () => import('./commands/image-pull.js'),
  },
  {
    name: 'image ls',
    aliases: ['list'],
    shortcuts: ['images'],
    summary: 'List images',
    options: [
      FORMAT,
      { flags: '-q, --quiet', description: 'only image ids' },
      { flags: '--no-trunc', description: 'full image ids' },
      { flags: '-a, --all', description: 'all images (accepted for Docker compatibility)' },
    ],
    load: () => import('./commands/image-ls.js'),
  },
  {
    name: 'image inspect',
    summary: 'Show an image as JSON',
    args: ['<image...>'],
    options: [FORMAT],
    load: () => import('./commands/image-inspect.js'),
  },
  {
    name: 'image history',
    shortcuts: ['history'],
    summary: 'Show the history of an image',
    args: ['<image>'],
    options: [FORMAT, { flags: '--no-trunc', description: 'do not shorten the output' }],
    load: () => import('./commands/image-history.js'),
  },
  {
    name: 'image tag',
    shortcuts: ['tag'],
    summary: 'Give an image another name',
    args: ['<source>', '<target>'],
    load: () => import('./commands/image-tag.js'),
  },
  {
    name: 'image rm',
    aliases: ['del', 'remove'],
    shortcuts: ['rmi'],
    summary: 'Remove images (tags first; layers no other image uses)',
    args: ['<image...>'],
    options: [{ flags: '-f, --force', description: 'remove even when containers use it, and all tags of an id' }],
    load: () => import('./commands/image-rm.js'),
  },
  {
    name: 'image prune',
    summary: 'Remove dangling images (no tag, no container)',
    options: [FORMAT, { flags: '-f, --force', description: 'do not ask (it never does)' }],
    load: () => import('./commands/image-prune.js'),
  },
  {
    name: 'image new',
    aliases: ['import'],
    summary: 'Make a one-layer image from a root filesystem tarball (plain or gzip)',
    args: ['<name>', '[source]'],
    options: [
      { flags: '--file <path>', description: 'tarball on disk (- for standard input)' },
      { flags: '--url <url>', description: 'tarball to download' },
      { flags: '-m, --message <text>', description: 'comment recorded in the image history' },
    ],
    load: () => import('./commands/image-import.js'),
  },
  {
    name: 'container run',
    shortcuts: ['run'],
    summary: 'Run a command in a new container, in the foreground',
    args: ['<image>', '[command...]'],
    passThrough: true,
    options: [
      { flags: '--name <name>', description: 'give the container a name' },
      { flags: '-e, --env <NAME[=VALUE]>', description: 'set an environment variable (NAME alone takes yours)', repeatable: true },
      { flags: '--env-file <file>', description: 'read environment variables from a file', repeatable: true },
      { flags: '-w, --workdir <dir>', description: 'working directory inside the container (made if missing)' },
      { flags: '-u, --user <name|uid[:group|gid]>', description: 'user to run as, resolved from the image\'s /etc/passwd and /etc/group' },
      { flags: '--entrypoint <command>', description: 'replace the image\'s entrypoint (and drop its Cmd); "" clears it' },
      { flags: '-h, --hostname <name>', description: 'the container\'s hostname (default: its short id)' },
      { flags: '-d, --detach', description: 'run it in the background under its monitor and print its id' },
      { flags: '--restart <policy>', description: 'no, on-failure[:N], always or unless-stopped (detached containers; the monitor restarts them)' },
      { flags: '--stop-signal <signal>', description: 'signal stop sends first (default: the image\'s StopSignal, or SIGTERM)' },
      { flags: '--stop-timeout <seconds>', description: 'seconds stop waits before SIGKILL (default 10)' },
      { flags: '--rm', description: 'remove the container and its files when it ends' },
      { flags: '--read-only', description: 'mount the root file system read-only' },
      { flags: '-i, --interactive', description: 'keep standard input attached' },
      { flags: '-t, --tty', description: 'give the container a pseudo-terminal (with -d: reach it with attach; Ctrl-P Ctrl-Q detaches)' },
      { flags: '--network <mode>', description: 'bridge (the default), a network\'s name, none (loopback only), host, or container:NAME (share its network)' },
      { flags: '-p, --publish <[ip:][hostPort:]containerPort[/proto]>', description: 'publish a container port on the host (no host port: a free one)', repeatable: true },
      { flags: '-P, --publish-all', description: 'publish every port the image exposes on a free host port' },
      { flags: '--add-host <host:ip>', description: 'add a line to the container\'s /etc/hosts', repeatable: true },
      { flags: '--network-alias <alias>', description: 'another name of the container on a user network', repeatable: true },
      { flags: '--dns <ip>', description: 'nameserver for the container\'s /etc/resolv.conf (replaces the host\'s)', repeatable: true },
      { flags: '--cap-add <capability>', description: 'add a Linux capability (or ALL)', repeatable: true },
      { flags: '--cap-drop <capability>', description: 'drop a Linux capability (or ALL)', repeatable: true },
      { flags: '--privileged', description: 'every capability, no seccomp, no masked paths, all devices allowed' },
      { flags: '--security-opt <option>', description: 'seccomp=unconfined|PROFILE.json, no-new-privileges, systempaths=unconfined', repeatable: true },
      { flags: '-m, --memory <bytes>', description: 'memory limit (e.g. 32m, 1g)' },
      { flags: '--memory-swap <bytes>', description: 'memory plus swap limit; -1 for unlimited swap' },
      { flags: '--cpus <number>', description: 'CPU time limit in CPUs (e.g. 1.5)' },
      { flags: '--cpu-shares <weight>', description: 'relative CPU weight (1024 is the default)' },
      { flags: '--cpuset-cpus <list>', description: 'CPUs the container may use (e.g. 0-1,3)' },
      { flags: '--pids-limit <n>', description: 'maximum number of processes (-1 for unlimited)' },
      { flags: '--runtime <runtime>', description: 'run the bundle with this OCI runtime (runc, or a path) instead of the built-in one' },
      { flags: '-v, --volume <spec>', description: 'bind HOST:CONTAINER[:ro|rw][,propagation], volume NAME:CONTAINER[:ro], or anonymous CONTAINER', repeatable: true },
      { flags: '--mount <spec>', description: 'type=bind|volume|tmpfs,source=...,target=...[,readonly][,...]', repeatable: true },
      { flags: '--tmpfs <path[:options]>', description: 'mount a tmpfs (e.g. /run:size=64m,mode=1777)', repeatable: true },
      { flags: '--volumes-from <container[:ro|rw]>', description: 'mount the volumes and binds of another container', repeatable: true },
    ],
    load: () => import('./commands/container-run.js'),
  },
  {
    name: 'container create',
    shortcuts: ['create'],
    summary: 'Create a container (bundle, config.json) without starting it; start runs it',
    args: ['<image>', '[command...]'],
    passThrough: true,
    options: [],
    load: () => import('./commands/container-create.js'),
  },
  {
    name: 'container ls',
    aliases: ['list', 'ps'],
    shortcuts: ['ps'],
    summary: 'List containers (running ones; -a for all)',
    options: [
      FORMAT,
      { flags: '-a, --all', description: 'show all containers, not only running ones' },
      { flags: '-q, --quiet', description: 'only container ids' },
      { flags: '--no-trunc', description: 'do not shorten ids and commands' },
      { flags: '-f, --filter <key=value>', description: 'status=, name=, ancestor=, id=, exited=', repeatable: true },
    ],
    load: () => import('./commands/container-ls.js'),
  },
  {
    name: 'container inspect',
    shortcuts: ['inspect'],
    summary: 'Show containers (or, at the top level, images) as JSON, Docker\'s shape',
    args: ['<container...>'],
    options: [{ flags: '-f, --format <format>', description: 'json, or a template of fields such as {{.State.Pid}} or {{json .Config.Env}}' }],
    load: () => import('./commands/container-inspect.js'),
  },
  {
    name: 'container start',
    shortcuts: ['start'],
    summary: 'Start created or stopped containers, detached under their monitor',
    args: ['<container...>'],
    options: [
      { flags: '-a, --attach', description: 'follow its output until it ends and exit with its status' },
      { flags: '-i, --interactive', description: 'with -a: send our input to the container (its terminal, or its stdin)' },
    ],
    load: () => import('./commands/container-start.js'),
  },
  {
    name: 'container stop',
    shortcuts: ['stop'],
    summary: 'Stop running containers: the stop signal, then SIGKILL after a grace period',
    args: ['<container...>'],
    options: [
      { flags: '-t, --time <seconds>', description: 'seconds to wait before killing (default 10)' },
      { flags: '-s, --signal <signal>', description: 'signal to send first (default: the image\'s StopSignal, or SIGTERM)' },
    ],
    load: () => import('./commands/container-stop.js'),
  },
  {
    name: 'container restart',
    shortcuts: ['restart'],
    summary: 'Stop and start containers again',
    args: ['<container...>'],
    options: [
      { flags: '-t, --time <seconds>', description: 'seconds to wait before killing (default 10)' },
      { flags: '-s, --signal <signal>', description: 'signal to send first' },
    ],
    load: () => import('./commands/container-restart.js'),
  },
  {
    name: 'container kill',
    shortcuts: ['kill'],
    summary: 'Send a signal (default SIGKILL) to running containers',
    args: ['<container...>'],
    options: [{ flags: '-s, --signal <signal>', description: 'signal to send', default: 'SIGKILL' }],
    load: () => import('./commands/container-kill.js'),
  },
  {
    name: 'container rm',
    aliases: ['remove'],
    shortcuts: ['rm'],
    summary: 'Remove containers (a running one only with -f)',
    args: ['<container...>'],
    options: [
      { flags: '-f, --force', description: 'kill a running container, then remove it' },
      { flags: '-v, --volumes', description: 'also remove its anonymous volumes' },
    ],
    load: () => import('./commands/container-rm.js'),
  },
  {
    name: 'container wait',
    shortcuts: ['wait'],
    summary: 'Wait until containers end, then print their exit codes',
    args: ['<container...>'],
    load: () => import('./commands/container-wait.js'),
  },
  {
    name: 'container rename',
    shortcuts: ['rename'],
    summary: 'Rename a container',
    args: ['<container>', '<new-name>'],
    load: () => import('./commands/container-rename.js'),
  },
  {
    name: 'container pause',
    shortcuts: ['pause'],
    summary: 'Freeze every process of containers (cgroup freezer)',
    args: ['<container...>'],
    load: () => import('./commands/container-pause.js'),
  },
  {
    name: 'container unpause',
    shortcuts: ['unpause'],
    summary: 'Thaw paused containers',
    args: ['<container...>'],
    load: () => import('./commands/container-unpause.js'),
  },
  {
    name: 'container prune',
    summary: 'Remove every container that is not running',
    options: [FORMAT, { flags: '-f, --force', description: 'do not ask (it never does)' }],
    load: () => import('./commands/container-prune.js'),
  },
  {
    name: 'container logs',
    shortcuts: ['logs'],
    summary: 'Show the output of a detached container (json-file log)',
    args: ['<container>'],
    options: [
      { flags: '-f, --follow', description: 'keep following until the container ends' },
      { flags: '-n, --tail <n>', description: 'only the last n lines (or all)' },
      { flags: '-t, --timestamps', description: 'show the time of each line' },
      { flags: '--since <time>', description: 'lines since a time (RFC 3339, Unix seconds) or a duration (10m)' },
      { flags: '--until <time>', description: 'lines before a time or a duration ago' },
    ],
    load: () => import('./commands/container-logs.js'),
  },
  {
    name: 'container top',
    shortcuts: ['top'],
    summary: 'Show the processes of a container',
    args: ['<container>'],
    options: [FORMAT],
    load: () => import('./commands/container-top.js'),
  },
  {
    name: 'container stats',
    shortcuts: ['stats'],
    summary: 'CPU, memory and pids of running containers, from their cgroups',
    args: ['[container...]'],
    options: [FORMAT, { flags: '--no-stream', description: 'one sample, then exit (default: a sample every second until Ctrl-C)' }],
    load: () => import('./commands/container-stats.js'),
  },
  {
    name: 'container attach',
    shortcuts: ['attach'],
    summary: 'Attach to the terminal of a running container started with -t (Ctrl-P Ctrl-Q detaches)',
    args: ['<container>'],
    options: [],
    load: () => import('./commands/container-attach.js'),
  },
  {
    name: 'container exec',
    shortcuts: ['exec'],
    summary: 'Run a command in a running container (its namespaces, cgroups, capabilities and seccomp)',
    args: ['<container>', '<command...>'],
    passThrough: true,
    options: [
      { flags: '-i, --interactive', description: 'keep standard input attached' },
      { flags: '-t, --tty', description: 'give the command a pseudo-terminal' },
      { flags: '-e, --env <NAME[=VALUE]>', description: 'set an environment variable (NAME alone takes yours)', repeatable: true },
      { flags: '-w, --workdir <dir>', description: 'working directory inside the container' },
      { flags: '-u, --user <name|uid[:group|gid]>', description: 'user to run as, resolved from the container\'s /etc/passwd and /etc/group' },
      { flags: '-d, --detach', description: 'start the command and return' },
      { flags: '--privileged', description: 'give the command every capability' },
    ],
    load: () => import('./commands/container-exec.js'),
  },
  {
    name: 'container cp',
    shortcuts: ['cp'],
    summary: 'Copy files between a running container and the host (CONTAINER:PATH on one side)',
    args: ['<src>', '<dst>'],
    load: () => import('./commands/container-cp.js'),
  },
  {
    name: 'network create',
    summary: 'Create a bridge network (its bridge, NAT and forwarding rules; CNI bridge, host-local, portmap)',
    args: ['<name>'],
    options: [
      FORMAT,
      { flags: '--subnet <cidr>', description: 'IPv4 subnet (default: a free 10.89.N.0/24)' },
      { flags: '--gateway <ip>', description: 'gateway address (default: the first of the subnet)' },
      { flags: '-d, --driver <driver>', description: 'network driver (only bridge)' },
      { flags: '--internal', description: 'no NAT and no route out: members reach only each other' },
      { flags: '--label <key=value>', description: 'set a label', repeatable: true },
    ],
    load: () => import('./commands/network-create.js'),
  },
  {
    name: 'network ls',
    aliases: ['list'],
    summary: 'List networks',
    options: [FORMAT, { flags: '-q, --quiet', description: 'only network ids' }, { flags: '--no-trunc', description: 'full network ids' }],
    load: () => import('./commands/network-ls.js'),
  },
  {
    name: 'network inspect',
    summary: 'Show networks as JSON (Docker\'s shape)',
    args: ['<network...>'],
    options: [FORMAT],
    load: () => import('./commands/network-inspect.js'),
  },
  {
    name: 'network rm',
    aliases: ['remove'],
    summary: 'Remove networks (refused while containers use them)',
    args: ['<network...>'],
    load: () => import('./commands/network-rm.js'),
  },
  {
    name: 'network prune',
    summary: 'Remove every user network no container uses',
    options: [FORMAT, { flags: '-f, --force', description: 'do not ask (it never does)' }],
    load: () => import('./commands/network-prune.js'),
  },
  {
    name: 'volume create',
    summary: 'Create a volume (a directory under <root>/volumes that containers mount)',
    args: ['[name]'],
    options: [
      FORMAT,
      { flags: '-d, --driver <driver>', description: 'volume driver (only local)' },
      { flags: '--label <key=value>', description: 'set a label', repeatable: true },
    ],
    load: () => import('./commands/volume-create.js'),
  },
  {
    name: 'volume ls',
    aliases: ['list'],
    summary: 'List volumes',
    options: [FORMAT, { flags: '-q, --quiet', description: 'only volume names' }],
    load: () => import('./commands/volume-ls.js'),
  },
  {
    name: 'volume inspect',
    summary: "Show volumes as JSON (Docker's shape)",
    args: ['<volume...>'],
    options: [FORMAT],
    load: () => import('./commands/volume-inspect.js'),
  },
  {
    name: 'volume rm',
    aliases: ['remove'],
    summary: 'Remove volumes (refused while a container uses them, unless -f)',
    args: ['<volume...>'],
    options: [{ flags: '-f, --force', description: 'remove even when containers use it' }],
    load: () => import('./commands/volume-rm.js'),
  },
  {
    name: 'volume prune',
    summary: 'Remove unused anonymous volumes (all unused volumes with -a)',
    options: [
      FORMAT,
      { flags: '-a, --all', description: 'also named volumes no container uses' },
      { flags: '-f, --force', description: 'do not ask (it never does)' },
    ],
    load: () => import('./commands/volume-prune.js'),
  },
];

// create takes run's flags, all but -d.
{
  const runOptions = COMMANDS.find((spec) => spec.name === 'container run')?.options ?? [];
  const create = COMMANDS.find((spec) => spec.name === 'container create');
  if (create !== undefined) create.options = runOptions.filter((option) => !option.flags.startsWith('-d,'));
}
