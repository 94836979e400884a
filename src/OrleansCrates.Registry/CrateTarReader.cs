using System.Buffers;
using System.Text;

namespace OrleansCrates.Registry;

/// <summary>One entry of a tar archive as cargo (tar-rs) will see it: path and size after GNU and PAX extensions.</summary>
internal readonly record struct CrateTarEntry(string Path, char TypeFlag, long Size)
{
    public bool IsFile => TypeFlag is '0' or '\0' or '7';

    public bool IsDirectory => TypeFlag == '5';

    public bool IsLink => TypeFlag is '1' or '2';
}

/// <summary>
/// A forward-only tar reader that never trusts a size from the archive with memory: the data of a GNU long name or
/// long link and of a PAX header is read only when it is at most <see cref="MaxExtensionBytes"/> (one buffer of that
/// size at most, per header), paths are at most <see cref="MaxPathBytes"/>, and file data is never buffered (it is
/// read by the caller or skipped through a small pooled buffer). It reads what tar-rs, cargo's unpacker, reads: ustar
/// (with prefix), GNU (long names) and PAX (<c>path</c>, <c>size</c>) headers, and stops at the first all-zero block.
/// Malformed input throws <see cref="InvalidDataException"/>.
/// </summary>
internal sealed class CrateTarReader(Stream stream)
{
    public const int BlockSize = 512;

    /// <summary>Largest GNU long name/long link or PAX header data accepted (each is held in memory while read).</summary>
    public const int MaxExtensionBytes = 64 * 1024;

    /// <summary>Largest entry path in UTF-8 bytes (Linux's PATH_MAX; cargo could not unpack a longer one anyway).</summary>
    public const int MaxPathBytes = 4096;

    /// <summary>Extension headers (long name, long link, PAX) allowed before one entry.</summary>
    private const int MaxExtensionsPerEntry = 4;

    private const int SkipBufferSize = 16 * 1024;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>POSIX ustar: "ustar", NUL, version "00" (GNU writes "ustar  " and NUL, and has no prefix field).</summary>
    private static ReadOnlySpan<byte> UstarMagic => [(byte)'u', (byte)'s', (byte)'t', (byte)'a', (byte)'r', 0, (byte)'0', (byte)'0'];

    private readonly byte[] _header = new byte[BlockSize];
    private long _dataRemaining;
    private int _padding;
    private bool _ended;

    /// <summary>The next entry (its data unread), or null at the end of the archive.</summary>
    public async ValueTask<CrateTarEntry?> NextAsync(CancellationToken cancellationToken)
    {
        if (_ended)
        {
            return null;
        }

        await SkipAsync(_dataRemaining + _padding, cancellationToken);
        _dataRemaining = 0;
        _padding = 0;

        byte[]? longName = null;
        byte[]? paxPath = null;
        long? paxSize = null;
        for (var extensions = 0; ; extensions++)
        {
            var read = await stream.ReadAtLeastAsync(_header, BlockSize, throwOnEndOfStream: false, cancellationToken);
            if (read == 0 || (read == BlockSize && Array.TrueForAll(_header, b => b == 0)))
            {
                _ended = true;
                return extensions == 0 ? null : throw new InvalidDataException("the archive ends right after an extended header");
            }

            if (read < BlockSize)
            {
                throw new InvalidDataException($"the archive ends inside a header ({read} of {BlockSize} bytes)");
            }

            CheckChecksum(_header);
            var size = ParseNumber(_header.AsSpan(124, 12), "size");
            var type = (char)_header[156];
            if (type is 'L' or 'K' or 'x' or 'g')
            {
                if (extensions >= MaxExtensionsPerEntry)
                {
                    throw new InvalidDataException($"more than {MaxExtensionsPerEntry} extended headers before one entry");
                }

                if (size > MaxExtensionBytes)
                {
                    throw new InvalidDataException($"an extended header ('{type}') announces {size} bytes; at most {MaxExtensionBytes} are allowed");
                }

                var data = new byte[size];
                await ReadExactlyAsync(data, cancellationToken);
                await SkipAsync(Padding(size), cancellationToken);
                switch (type)
                {
                    case 'L':
                        longName = CutAtNul(data);
                        break;
                    case 'x':
                        ParsePax(data, ref paxPath, ref paxSize);
                        break;
                    case 'g':
                        byte[]? ignoredPath = null;
                        long? ignoredSize = null;
                        ParsePax(data, ref ignoredPath, ref ignoredSize);
                        break;
                }

                continue;
            }

            var pathBytes = longName ?? paxPath ?? HeaderPath(_header);
            if (pathBytes.Length > MaxPathBytes)
            {
                throw new InvalidDataException($"an entry path is {pathBytes.Length} bytes long; at most {MaxPathBytes} are allowed");
            }

            string path;
            try
            {
                path = StrictUtf8.GetString(pathBytes);
            }
            catch (DecoderFallbackException)
            {
                throw new InvalidDataException("an entry path is not valid UTF-8");
            }

            _dataRemaining = paxSize ?? size;
            _padding = Padding(_dataRemaining);
            return new CrateTarEntry(path, type, _dataRemaining);
        }
    }

    /// <summary>Reads the current entry's data; 0 at its end.</summary>
    public async ValueTask<int> ReadDataAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (_dataRemaining == 0 || buffer.IsEmpty)
        {
            return 0;
        }

        var n = await stream.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _dataRemaining)], cancellationToken);
        if (n == 0)
        {
            throw new InvalidDataException("the archive ends inside an entry's data");
        }

        _dataRemaining -= n;
        return n;
    }

    internal static long ParseNumber(ReadOnlySpan<byte> field, string what)
    {
        if ((field[0] & 0x80) != 0)
        {
            // GNU base-256: big-endian binary after the marker bit; negative values are refused.
            if ((field[0] & 0x40) != 0)
            {
                throw new InvalidDataException($"a negative {what} field");
            }

            long binary = field[0] & 0x3F;
            foreach (var b in field[1..])
            {
                if (binary > (long.MaxValue >> 8))
                {
                    throw new InvalidDataException($"the {what} field is too large");
                }

                binary = (binary << 8) | b;
            }

            return binary;
        }

        var nul = field.IndexOf((byte)0);
        var text = (nul < 0 ? field : field[..nul]).Trim((byte)' ');
        if (text.IsEmpty)
        {
            throw new InvalidDataException($"an empty {what} field");
        }

        long value = 0;
        foreach (var b in text)
        {
            if (b is < (byte)'0' or > (byte)'7' || value > (long.MaxValue >> 3))
            {
                throw new InvalidDataException($"an invalid {what} field");
            }

            value = (value << 3) | (long)(b - '0');
        }

        return value;
    }

    private static void CheckChecksum(byte[] header)
    {
        var expected = ParseNumber(header.AsSpan(148, 8), "checksum");
        long sum = 0;
        for (var i = 0; i < BlockSize; i++)
        {
            sum += i is >= 148 and < 156 ? ' ' : header[i];
        }

        if (sum != expected)
        {
            throw new InvalidDataException("a header checksum does not match");
        }
    }

    /// <summary>ustar joins prefix and name; GNU and old headers have the name only (as tar-rs reads them).</summary>
    private static byte[] HeaderPath(byte[] header)
    {
        var name = CutAtNul(header.AsSpan(0, 100));
        var ustar = header.AsSpan(257, 8).SequenceEqual(UstarMagic);
        if (!ustar)
        {
            return name;
        }

        var prefix = CutAtNul(header.AsSpan(345, 155));
        return prefix.Length == 0 ? name : [.. prefix, (byte)'/', .. name];
    }

    private static byte[] CutAtNul(ReadOnlySpan<byte> bytes)
    {
        var nul = bytes.IndexOf((byte)0);
        return (nul < 0 ? bytes : bytes[..nul]).ToArray();
    }

    /// <summary>PAX records, <c>"LEN key=value\n"</c>; keeps <c>path</c> and <c>size</c>, checks the shape of all.</summary>
    private static void ParsePax(ReadOnlySpan<byte> data, ref byte[]? path, ref long? size)
    {
        while (!data.IsEmpty)
        {
            if (data.Length == 1 && data[0] == 0)
            {
                return; // some writers pad with a NUL
            }

            var space = data.IndexOf((byte)' ');
            if (space is <= 0 or > 9)
            {
                throw new InvalidDataException("a malformed PAX record length");
            }

            var length = 0;
            foreach (var b in data[..space])
            {
                if (!char.IsAsciiDigit((char)b))
                {
                    throw new InvalidDataException("a malformed PAX record length");
                }

                length = (length * 10) + (b - '0');
            }

            if (length <= space + 1 || length > data.Length || data[length - 1] != (byte)'\n')
            {
                throw new InvalidDataException("a malformed PAX record");
            }

            var record = data[(space + 1)..(length - 1)];
            var equals = record.IndexOf((byte)'=');
            if (equals <= 0)
            {
                throw new InvalidDataException("a PAX record without a key");
            }

            var key = record[..equals];
            var value = record[(equals + 1)..];
            if (key.SequenceEqual("path"u8))
            {
                path = value.ToArray();
            }
            else if (key.SequenceEqual("size"u8))
            {
                if (value.IsEmpty || value.Length > 18 || value.ContainsAnyExceptInRange((byte)'0', (byte)'9'))
                {
                    throw new InvalidDataException("an invalid PAX size");
                }

                size = long.Parse(value, provider: System.Globalization.CultureInfo.InvariantCulture);
            }

            data = data[length..];
        }
    }

    private static int Padding(long size) => (int)((BlockSize - (size % BlockSize)) % BlockSize);

    private async ValueTask ReadExactlyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken) < buffer.Length)
        {
            throw new InvalidDataException("the archive ends inside an extended header");
        }
    }

    private async ValueTask SkipAsync(long count, CancellationToken cancellationToken)
    {
        if (count <= 0)
        {
            return;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(SkipBufferSize);
        try
        {
            while (count > 0)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count)), cancellationToken);
                if (n == 0)
                {
                    throw new InvalidDataException("the archive ends inside an entry's data");
                }

                count -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
