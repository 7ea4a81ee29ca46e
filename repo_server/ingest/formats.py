"""The tables behind the acceptance policy: families, extensions, dangerous types.

Families are what teachers filter by (文档, 演示, 表格, 视频, …; see vocab.json "formats").
Extensions come from what district libraries really hold, WPS Office's own included.
"""

from __future__ import annotations

__all__ = ["FAMILY_LABELS", "MIME_FAMILY", "EXTENSION_FAMILY", "OFFICE_FAMILIES",
           "OFFICE_CONTAINERS", "ACTIVE_MIMES", "DANGEROUS_MIMES", "DANGEROUS_EXTENSIONS",
           "EXTENSION_MIME"]

FAMILY_LABELS = {
    "document": "a document (文档)",
    "presentation": "a presentation (演示)",
    "spreadsheet": "a spreadsheet (表格)",
    "video": "a video (视频)",
    "audio": "audio (音频)",
    "image": "an image (图片)",
    "ebook": "an e-book (电子书)",
    "archive": "an archive (压缩包)",
    "animation": "a Flash animation (动画)",
    "web": "a web page (网页)",
    "text": "plain text (文本)",
}

OFFICE_FAMILIES = {"document", "presentation", "spreadsheet"}

_OOXML = "application/vnd.openxmlformats-officedocument."
MIME_FAMILY = {
    "application/pdf": "document",
    "application/msword": "document",
    _OOXML + "wordprocessingml.document": "document",
    _OOXML + "wordprocessingml.template": "document",
    "application/vnd.ms-word.document.macroenabled.12": "document",
    "application/vnd.oasis.opendocument.text": "document",
    "application/rtf": "document",
    "text/rtf": "document",
    "application/vnd.ms-powerpoint": "presentation",
    _OOXML + "presentationml.presentation": "presentation",
    _OOXML + "presentationml.slideshow": "presentation",
    "application/vnd.ms-powerpoint.presentation.macroenabled.12": "presentation",
    "application/vnd.oasis.opendocument.presentation": "presentation",
    "application/vnd.ms-excel": "spreadsheet",
    _OOXML + "spreadsheetml.sheet": "spreadsheet",
    "application/vnd.ms-excel.sheet.macroenabled.12": "spreadsheet",
    "application/vnd.oasis.opendocument.spreadsheet": "spreadsheet",
    "text/csv": "spreadsheet",
    # OLE2 envelopes libmagic cannot name further; the extension decides (see sniff.py).
    "application/x-ole-storage": "document",
    "application/CDFV2": "document",
    "application/vnd.ms-office": "document",
    "application/encrypted": "document",  # password-protected OOXML is an OLE2 envelope
    "application/epub+zip": "ebook",
    "application/x-mobipocket-ebook": "ebook",
    "application/ogg": "audio",
    "application/vnd.rn-realmedia": "video",
    "application/zip": "archive",
    "application/x-rar": "archive",
    "application/vnd.rar": "archive",
    "application/x-7z-compressed": "archive",
    "application/gzip": "archive",
    "application/x-tar": "archive",
    "application/x-bzip2": "archive",
    "application/x-xz": "archive",
    "application/x-shockwave-flash": "animation",
    "text/html": "web",
    "text/xml": "web",
    "application/xml": "web",
    "image/svg+xml": "image",
    # Images by name only: libmagic's weaker image signatures (TGA above all) match random
    # bytes, so a bare "image/" prefix is not evidence of an image.
    **dict.fromkeys(["image/jpeg", "image/png", "image/gif", "image/bmp", "image/x-ms-bmp",
                     "image/webp", "image/tiff", "image/heic", "image/heif", "image/avif",
                     "image/vnd.microsoft.icon", "image/x-icon"], "image"),
    "text/plain": "text",
    "text/markdown": "text",
    "text/vtt": "text",
    "application/x-subrip": "text",
    "application/json": "text",
}

OFFICE_CONTAINERS = {mime for mime, family in MIME_FAMILY.items() if family in OFFICE_FAMILIES}
OFFICE_CONTAINERS -= {"text/csv", "application/pdf"}

EXTENSION_FAMILY = {
    **dict.fromkeys(["pdf", "doc", "docx", "docm", "dot", "dotx", "wps", "wpt", "rtf", "odt"], "document"),
    **dict.fromkeys(["ppt", "pptx", "pptm", "pps", "ppsx", "pot", "potx", "dps", "dpt", "odp"], "presentation"),
    **dict.fromkeys(["xls", "xlsx", "xlsm", "xlt", "xltx", "et", "ett", "ods", "csv"], "spreadsheet"),
    **dict.fromkeys(["mp4", "m4v", "flv", "f4v", "wmv", "avi", "mov", "mkv", "webm", "mpeg", "mpg",
                     "vob", "ts", "m2ts", "3gp", "rm", "rmvb", "asf", "ogv"], "video"),
    **dict.fromkeys(["mp3", "wav", "m4a", "aac", "ogg", "oga", "opus", "wma", "flac", "amr", "mid",
                     "midi"], "audio"),
    **dict.fromkeys(["jpg", "jpeg", "png", "gif", "bmp", "webp", "tif", "tiff", "svg", "ico", "heic"], "image"),
    **dict.fromkeys(["epub", "mobi", "azw3"], "ebook"),
    **dict.fromkeys(["zip", "rar", "7z", "gz", "tgz", "tar", "bz2", "xz"], "archive"),
    "swf": "animation",
    **dict.fromkeys(["html", "htm", "xhtml", "xml"], "web"),
    **dict.fromkeys(["txt", "md", "srt", "vtt", "json", "lrc"], "text"),
}

# Served only as attachments, never inline: browsers would run their scripts.
ACTIVE_MIMES = {"text/html", "text/xml", "application/xml", "image/svg+xml",
                "application/x-shockwave-flash", "application/xhtml+xml"}

DANGEROUS_MIMES = {
    "application/x-executable", "application/x-pie-executable", "application/x-sharedlib",
    "application/x-dosexec", "application/x-msdownload", "application/x-mach-binary",
    "application/vnd.microsoft.portable-executable", "application/x-elf", "application/x-msi",
    "application/x-ms-installer", "application/java-archive", "application/x-java-archive",
    "application/vnd.android.package-archive", "application/x-apple-diskimage",
    "application/x-ms-shortcut", "application/x-object", "application/x-coff",
    "text/x-shellscript", "text/x-python", "text/x-script.python", "text/x-perl",
    "text/x-php", "text/x-ruby", "text/x-lua", "text/x-tcl", "text/x-awk",
    "text/x-msdos-batch", "text/javascript", "application/javascript",
    "application/x-javascript", "text/x-vbscript", "application/hta",
    "application/x-bytecode.python",
}

DANGEROUS_EXTENSIONS = {
    "exe", "com", "bat", "cmd", "msi", "msp", "mst", "scr", "pif", "cpl", "dll", "sys", "ocx",
    "drv", "vbs", "vbe", "js", "jse", "mjs", "wsf", "wsh", "wsc", "ps1", "psm1", "psd1", "sh",
    "bash", "zsh", "csh", "ksh", "fish", "py", "pyc", "pyw", "pyz", "pl", "rb", "php", "phtml",
    "php3", "php4", "php5", "phar", "jsp", "jspx", "asp", "aspx", "cgi", "jar", "apk", "app",
    "dmg", "deb", "rpm", "lnk", "reg", "hta", "inf", "scf", "gadget", "chm", "so", "dylib",
    "desktop", "service", "run", "elf", "ko", "url", "website", "appx", "msix", "xbap",
}

# The registered type of an extension, used to name content libmagic can only place in a
# family (a generic OLE2 envelope, an encrypted OOXML file, plain text that is really .csv).
# Explicit rather than from /etc/mime.types, which minimal servers lack.
EXTENSION_MIME = {
    "doc": "application/msword", "dot": "application/msword", "wps": "application/msword",
    "docx": _OOXML + "wordprocessingml.document", "dotx": _OOXML + "wordprocessingml.template",
    "docm": "application/vnd.ms-word.document.macroEnabled.12",
    "ppt": "application/vnd.ms-powerpoint", "pps": "application/vnd.ms-powerpoint",
    "pot": "application/vnd.ms-powerpoint", "dps": "application/vnd.ms-powerpoint",
    "pptx": _OOXML + "presentationml.presentation", "ppsx": _OOXML + "presentationml.slideshow",
    "pptm": "application/vnd.ms-powerpoint.presentation.macroEnabled.12",
    "xls": "application/vnd.ms-excel", "xlt": "application/vnd.ms-excel", "et": "application/vnd.ms-excel",
    "xlsx": _OOXML + "spreadsheetml.sheet",
    "xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    "rtf": "application/rtf", "csv": "text/csv", "srt": "application/x-subrip", "vtt": "text/vtt",
    "md": "text/markdown", "json": "application/json", "lrc": "text/plain", "txt": "text/plain",
}
