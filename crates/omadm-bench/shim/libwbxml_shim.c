/*
 * A thin C shim over libwbxml's converters, so that Rust can time them without bindings to the
 * whole API. Each call is one self-contained conversion: create a converter, set it up, run it,
 * destroy it, as the `wbxml_conv_*_withlen` functions and the wbxml2xml/xml2wbxml tools do.
 * Output buffers come from libwbxml's allocator (malloc) and go back with omadm_libwbxml_free.
 */
#include <stdlib.h>
#include <wbxml/wbxml.h>
#include <wbxml/wbxml_conv.h>
#include <wbxml/wbxml_errors.h>

/* WBXML -> compact XML. Returns a WBXMLError code (0 is WBXML_OK). */
int omadm_libwbxml_wbxml2xml(const unsigned char *wbxml, size_t wbxml_len, unsigned char **xml, size_t *xml_len)
{
    WBXMLConvWBXML2XML *conv = NULL;
    WB_ULONG out_len = 0;
    WBXMLError ret = wbxml_conv_wbxml2xml_create(&conv);
    if (ret != WBXML_OK)
        return ret;
    wbxml_conv_wbxml2xml_set_gen_type(conv, WBXML_GEN_XML_COMPACT);
    ret = wbxml_conv_wbxml2xml_run(conv, (WB_UTINY *)wbxml, (WB_ULONG)wbxml_len, xml, &out_len);
    wbxml_conv_wbxml2xml_destroy(conv);
    *xml_len = out_len;
    return ret;
}

/* XML -> WBXML 1.3 (libwbxml's default version), with or without a string table. */
int omadm_libwbxml_xml2wbxml(const unsigned char *xml, size_t xml_len, int string_table, unsigned char **wbxml,
                             size_t *wbxml_len)
{
    WBXMLConvXML2WBXML *conv = NULL;
    WB_ULONG out_len = 0;
    WBXMLError ret = wbxml_conv_xml2wbxml_create(&conv);
    if (ret != WBXML_OK)
        return ret;
    if (!string_table)
        wbxml_conv_xml2wbxml_disable_string_table(conv);
    ret = wbxml_conv_xml2wbxml_run(conv, (WB_UTINY *)xml, (WB_ULONG)xml_len, wbxml, &out_len);
    wbxml_conv_xml2wbxml_destroy(conv);
    *wbxml_len = out_len;
    return ret;
}

/* Frees a buffer a conversion returned. */
void omadm_libwbxml_free(unsigned char *buffer)
{
    free(buffer);
}

/* The message libwbxml gives for an error code (a static string). */
const char *omadm_libwbxml_error(int code)
{
    return (const char *)wbxml_errors_string((WBXMLError)code);
}
