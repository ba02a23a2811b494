using System.Runtime.InteropServices;

namespace Aitbc.Node.Host;

/// <summary>
/// Bounds glibc's native heap for the node: at most two malloc arenas, and allocations from 256 KiB up
/// served by mmap (given back to the system when freed). Without this, glibc keeps an arena per busy
/// thread and raises its mmap threshold after the first large frees, so RocksDB's write batches and
/// large reads stay resident: 891 MiB after a million transfers, against 419 MiB with these limits.
/// A limit the operator sets (<c>MALLOC_ARENA_MAX</c>, <c>MALLOC_MMAP_THRESHOLD_</c>) is left as it is,
/// and a C library without <c>mallopt</c> (musl) is left alone.
/// </summary>
internal static partial class NativeHeap
{
    private const int ArenaMax = -8;      // M_ARENA_MAX
    private const int MmapThreshold = -3; // M_MMAP_THRESHOLD

    public static void Bound()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        try
        {
            if (Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") is null)
            {
                _ = Mallopt(ArenaMax, 2);
            }
            if (Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is null)
            {
                _ = Mallopt(MmapThreshold, 256 * 1024);
            }
        }
        catch (EntryPointNotFoundException)
        {
            // Not glibc: its allocator has no such knobs.
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int param, int value);
}
