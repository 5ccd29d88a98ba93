"""Compile a network to a hardware profile: quantize, map to cores, write a build directory."""
from .artifact import Build, write_build
from .compiler import CompileResult, compile_network

__all__ = ["compile_network", "CompileResult", "Build", "write_build"]
