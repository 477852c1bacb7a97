namespace Freshet.Redis;

/// <summary>
/// The Lua scripts that make newest-wins, puts and swaps atomic on the server. They use only what Redis 7's Lua
/// 5.1 and Garnet's Lua 5.4 both have (<c>string.byte</c>, arithmetic that stays exact in doubles), and touch
/// only the keys they are given, all of one hash slot in cluster mode.
/// </summary>
internal static class RedisScripts
{
    /// <summary>
    /// KEYS[i] gets ARGV[i] unless the stored row is newer; returns how many were stored. Timestamps are read from
    /// RowCodec's header (format byte, event and created microseconds as little-endian int64) in two exact 32-bit
    /// halves rather than compared as strings: Lua compares strings with the server's collation locale. A stored
    /// value that is not a row (a state row put under the same key) is replaced.
    /// </summary>
    public const string Write = """
        local function half(s, o)
          local b1, b2, b3, b4, b5, b6, b7, b8 = string.byte(s, o, o + 7)
          local hi = ((b8 * 256 + b7) * 256 + b6) * 256 + b5
          if hi >= 2147483648 then hi = hi - 4294967296 end
          return hi, ((b4 * 256 + b3) * 256 + b2) * 256 + b1
        end
        local function older(new, cur)
          local o = 2
          while o <= 10 do
            local nh, nl = half(new, o)
            local ch, cl = half(cur, o)
            if nh ~= ch then return nh < ch end
            if nl ~= cl then return nl < cl end
            o = o + 8
          end
          return false
        end
        local stored = 0
        for i = 1, #KEYS do
          local cur = redis.call('GET', KEYS[i])
          if (not cur) or string.len(cur) < 17 or string.byte(cur, 1) ~= 1 or not older(ARGV[i], cur) then
            redis.call('SET', KEYS[i], ARGV[i])
            stored = stored + 1
          end
        end
        return stored
        """;

    /// <summary>Puts in order: ARGV[2i-1] is '1' to set KEYS[i] to ARGV[2i], '0' to delete it.</summary>
    public const string Put = """
        for i = 1, #KEYS do
          if ARGV[2 * i - 1] == '1' then
            redis.call('SET', KEYS[i], ARGV[2 * i])
          else
            redis.call('DEL', KEYS[i])
          end
        end
        return #KEYS
        """;

    /// <summary>
    /// Compare-and-set per key: ARGV[3i-2] is two flags (expected present, new value present), ARGV[3i-1] the
    /// expected value, ARGV[3i] the new one; returns 1 or 0 per key.
    /// </summary>
    public const string Swap = """
        local applied = {}
        for i = 1, #KEYS do
          local flags = ARGV[3 * i - 2]
          local cur = redis.call('GET', KEYS[i])
          local ok
          if string.sub(flags, 1, 1) == '1' then ok = (cur == ARGV[3 * i - 1]) else ok = (not cur) end
          if ok then
            if string.sub(flags, 2, 2) == '1' then
              redis.call('SET', KEYS[i], ARGV[3 * i])
            else
              redis.call('DEL', KEYS[i])
            end
            applied[i] = 1
          else
            applied[i] = 0
          end
        end
        return applied
        """;
}
