using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace OrleansCrates.Sockets;

/// <summary>The Linux system calls the transport makes itself (the runtime's sockets have no sendfile with an offset, nor MSG_MORE).</summary>
internal static unsafe partial class Native
{
    public const int EAGAIN = 11;
    public const int EINTR = 4;
    public const int EINVAL = 22;
    public const int ENOSYS = 38;
    public const int EOPNOTSUPP = 95;
    private const int MSG_NOSIGNAL = 0x4000;
    private const int MSG_MORE = 0x8000;

    /// <summary>Whether this platform has the calls (Linux); elsewhere the transport is not offered.</summary>
    public static bool Supported => OperatingSystem.IsLinux();

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>
    /// sendmsg(2) of <paramref name="count"/> buffers on a non-blocking socket: bytes sent, or -1 with the error in
    /// <paramref name="errno"/>. <paramref name="more"/>: MSG_MORE, the kernel holds a part-filled segment for what follows.
    /// </summary>
    public static long SendMessage(SafeHandle socket, IoVec* buffers, int count, bool more, out int errno)
    {
        var header = new MsgHdr { Iov = buffers, IovLength = (nuint)count };
        var added = false;
        socket.DangerousAddRef(ref added); // the descriptor cannot be closed (and reused) while the call runs
        try
        {
            var sent = (long)SendMsg((int)socket.DangerousGetHandle(), &header, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
            errno = sent < 0 ? Marshal.GetLastPInvokeError() : 0;
            return sent;
        }
        finally
        {
            socket.DangerousRelease();
        }
    }

    /// <summary>sendfile(2) from <paramref name="file"/> at <paramref name="offset"/> (advanced by what was sent).</summary>
    public static long SendFile(SafeHandle socket, SafeHandle file, ref long offset, long count, out int errno)
    {
        var socketAdded = false;
        var fileAdded = false;
        try
        {
            socket.DangerousAddRef(ref socketAdded);
            file.DangerousAddRef(ref fileAdded);
            var at = offset;
            var sent = (long)SendFileCall((int)socket.DangerousGetHandle(), (int)file.DangerousGetHandle(), &at, (nuint)count);
            errno = sent < 0 ? Marshal.GetLastPInvokeError() : 0;
            offset = at;
            return sent;
        }
        finally
        {
            if (fileAdded)
            {
                file.DangerousRelease();
            }

            if (socketAdded)
            {
                socket.DangerousRelease();
            }
        }
    }

    /// <summary>The socket error an errno of a send stands for (as the runtime maps errno for its own calls).</summary>
    public static SocketException ToSocketException(int errno) => new((int)(errno switch
    {
        32 => SocketError.Shutdown, // EPIPE
        104 => SocketError.ConnectionReset, // ECONNRESET
        9 => SocketError.OperationAborted, // EBADF: closed under us
        _ => SocketError.SocketError,
    }));

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint SendMsg(int socket, MsgHdr* message, int flags);

    [LibraryImport("libc", EntryPoint = "sendfile", SetLastError = true)]
    private static partial nint SendFileCall(int outFd, int inFd, long* offset, nuint count);
}
