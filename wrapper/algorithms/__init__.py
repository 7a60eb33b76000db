"""The algorithm registry (`registry`): stable names for training code, each published version
an image tag with who published it and when; a job that names an algorithm runs its current
version."""
