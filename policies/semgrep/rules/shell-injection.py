"""Test cases for the shell-injection rules: launching training jobs and tools."""

import os
import shlex
import subprocess
import sys
from os import system as run_shell
from subprocess import check_output

GPU_QUERY = "nvidia-smi --query-gpu=name,memory.used --format=csv"


def launch_training(config_path, run_name):
    # ruleid: ml-subprocess-shell-true
    subprocess.run(f"python train.py --config {config_path} --run-name {run_name}", shell=True, check=True)


def launch_training_argv(config_path, run_name):
    # ok: ml-subprocess-shell-true
    subprocess.run([sys.executable, "train.py", "--config", config_path, "--run-name", run_name], check=True)


def convert_model(src, dst):
    cmd = "python -m tf2onnx.convert --saved-model " + src + " --output " + dst
    # ruleid: ml-subprocess-shell-true
    return subprocess.call(cmd, shell=True)


def convert_model_argv(src, dst):
    # ok: ml-subprocess-shell-true
    return subprocess.call(["python", "-m", "tf2onnx.convert", "--saved-model", src, "--output", dst])


def sync_checkpoints(bucket, local_dir):
    # ruleid: ml-subprocess-shell-true
    subprocess.check_call("aws s3 sync {} {}".format(local_dir, bucket), shell=True)


def sync_checkpoints_no_shell(bucket, local_dir):
    # ok: ml-subprocess-shell-true
    subprocess.check_call(["aws", "s3", "sync", local_dir, bucket], shell=False)


def git_commit_of(repo_dir):
    # ruleid: ml-subprocess-shell-true
    return check_output("git -C %s rev-parse HEAD" % repo_dir, shell=True, text=True).strip()


def git_commit_of_argv(repo_dir):
    # ok: ml-subprocess-shell-true
    return check_output(["git", "-C", repo_dir, "rev-parse", "HEAD"], text=True).strip()


def start_tensorboard(logdir, use_shell):
    # ruleid: ml-subprocess-shell-true
    return subprocess.Popen("tensorboard --logdir " + logdir, shell=use_shell)


def start_tensorboard_argv(logdir):
    # ok: ml-subprocess-shell-true
    return subprocess.Popen(["tensorboard", "--logdir", logdir])


def start_tensorboard_quoted(logdir):
    # ok: ml-subprocess-shell-true
    return subprocess.Popen(shlex.split(f"tensorboard --logdir {shlex.quote(logdir)}"))


def gpu_inventory():
    # ruleid: ml-subprocess-shell-true-constant
    return subprocess.check_output("nvidia-smi -L | wc -l", shell=True, text=True)


def gpu_inventory_argv():
    # ok: ml-subprocess-shell-true-constant
    return subprocess.check_output(["nvidia-smi", "-L"], text=True)


def gpu_usage():
    # ruleid: ml-subprocess-shell-true-constant
    return subprocess.run(GPU_QUERY, shell=True, capture_output=True, text=True).stdout


def gpu_usage_split():
    # ok: ml-subprocess-shell-true-constant
    return subprocess.run(shlex.split(GPU_QUERY), capture_output=True, text=True).stdout


def download_dataset(url, dest):
    # ruleid: ml-os-system-dynamic
    os.system(f"wget -q {url} -O {dest}")


def download_dataset_argv(url, dest):
    # ok: ml-os-system-dynamic
    subprocess.run(["wget", "-q", url, "-O", dest], check=True)


def clear_cache():
    # ok: ml-os-system-dynamic
    os.system("rm -rf ~/.cache/torch/kernels")


def disk_usage(path):
    # ruleid: ml-os-system-dynamic
    return os.popen("du -sh " + path).read()


def disk_usage_argv(path):
    # ok: ml-os-system-dynamic
    return subprocess.run(["du", "-sh", path], capture_output=True, text=True, check=True).stdout


def pip_freeze():
    # ok: ml-os-system-dynamic
    return os.popen("pip freeze").read()


def notify(channel, message):
    # ruleid: ml-os-system-dynamic
    run_shell("slack-notify --channel " + channel + " " + shlex.quote(message))


def hostname_info(host):
    # ruleid: ml-os-system-dynamic
    return subprocess.getoutput(f"ssh {host} hostname")


def hostname_info_argv(host):
    # ok: ml-os-system-dynamic
    return subprocess.run(["ssh", host, "hostname"], capture_output=True, text=True).stdout


def kernel_version():
    # ok: ml-os-system-dynamic
    return subprocess.getoutput("uname -r")
