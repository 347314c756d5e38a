"""`python -m deepworks.cli`: what torchrun launches for `--nproc`."""

from deepworks.cli import command

command()
