namespace ConnectionGrid.Storage;

/// <summary>
/// The data directory and what the grid keeps in it (the database, development keys) are readable by the grid's user
/// only: 0700 for directories, 0600 for files, set when they are created so there is no moment they are open to others.
/// </summary>
public static class PrivateFiles
{
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates the directory 0700 if it does not exist (an existing one, say a mounted volume, is left as it is).</summary>
    public static void EnsureDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        Directory.CreateDirectory(path, DirectoryMode);
    }

    /// <summary>
    /// Creates an empty file 0600 if it does not exist, and takes group and other permissions away from an existing
    /// one (SQLite creates its -wal and -shm files with the database file's permissions).
    /// </summary>
    public static void EnsureFile(string path)
    {
        EnsureDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        if (OperatingSystem.IsWindows())
        {
            using var created = File.Open(path, System.IO.FileMode.OpenOrCreate, FileAccess.ReadWrite);
            return;
        }
        using (File.Open(path, new FileStreamOptions { Mode = System.IO.FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, UnixCreateMode = FileMode }))
        {
        }
        if ((File.GetUnixFileMode(path) & ~FileMode) != 0)
        {
            File.SetUnixFileMode(path, FileMode);
        }
    }

    /// <summary>Writes a secret file that is 0600 from its first byte on.</summary>
    public static void WriteSecret(string path, string contents)
    {
        EnsureFile(path);
        File.WriteAllText(path, contents);
    }
}
